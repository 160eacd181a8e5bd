// bindings.cpp: see bindings.hpp.
#include "coherence/bindings.hpp"

#include <algorithm>

namespace dsm::rt {

std::string bindings::conflict(std::uint64_t offset, std::uint64_t bytes) const {
  std::string why;
  for_each_in(offset, offset + bytes, [&](const range& r, std::uint64_t, std::uint64_t) {
    if (!why.empty()) return;
    why = "it overlaps bytes [" + std::to_string(r.offset) + ", " + std::to_string(r.offset + r.bytes) +
          ") of the global space, already bound to dsm::mutex " + std::to_string(r.lock);
  });
  return why;
}

void bindings::add(std::uint64_t lock, std::uint64_t offset, std::uint64_t bytes) {
  const range r{offset, bytes, lock};
  by_offset_.emplace(offset, r);
  by_lock_[lock].push_back(r);
}

void bindings::remove_within(std::uint64_t first, std::uint64_t end) {
  for (auto it = by_offset_.lower_bound(first); it != by_offset_.end() && it->first < end;) {
    const range r = it->second;
    if (r.offset + r.bytes > end) {
      ++it;
      continue;
    }
    auto& list = by_lock_[r.lock];
    std::erase_if(list, [&](const range& x) { return x.offset == r.offset; });
    if (list.empty()) by_lock_.erase(r.lock);
    it = by_offset_.erase(it);
  }
}

const std::vector<bindings::range>& bindings::of_lock(std::uint64_t lock) const {
  static const std::vector<range> kNone;
  auto it = by_lock_.find(lock);
  return it == by_lock_.end() ? kNone : it->second;
}

std::uint64_t bindings::bytes_of_lock(std::uint64_t lock) const {
  std::uint64_t n = 0;
  for (const range& r : of_lock(lock)) n += r.bytes;
  return n;
}

const bindings::range* bindings::find(std::uint64_t offset) const {
  auto it = by_offset_.upper_bound(offset);
  if (it == by_offset_.begin()) return nullptr;
  --it;
  const range& r = it->second;
  return offset < r.offset + r.bytes ? &r : nullptr;
}

}  // namespace dsm::rt
