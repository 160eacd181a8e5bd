// allocator.cpp: see allocator.hpp.
#include "alloc/allocator.hpp"

namespace dsm::rt {

std::optional<std::uint64_t> allocator::allocate(std::uint64_t bytes) {
  if (bytes == 0) bytes = 1;
  if (bytes > size_) return std::nullopt;
  const std::uint64_t len = (bytes + unit_ - 1) / unit_ * unit_;
  for (auto it = free_.begin(); it != free_.end(); ++it) {
    if (it->second < len) continue;
    const std::uint64_t off = it->first;
    const std::uint64_t rest = it->second - len;
    free_.erase(it);
    if (rest != 0) free_[off + len] = rest;
    used_[off] = len;
    in_use_ += len;
    return off;
  }
  return std::nullopt;
}

std::optional<std::uint64_t> allocator::length_of(std::uint64_t offset) const {
  auto it = used_.find(offset);
  if (it == used_.end()) return std::nullopt;
  return it->second;
}

std::optional<std::pair<std::uint64_t, std::uint64_t>> allocator::containing(std::uint64_t offset) const {
  auto it = used_.upper_bound(offset);
  if (it == used_.begin()) return std::nullopt;
  --it;
  if (offset - it->first >= it->second) return std::nullopt;
  return *it;
}

std::optional<dsm::placement> allocator::placement_of(std::uint64_t offset) const {
  auto it = placement_.find(offset);
  if (it == placement_.end()) return std::nullopt;
  return it->second;
}

void allocator::release(std::uint64_t offset) {
  auto it = used_.find(offset);
  if (it == used_.end()) return;
  placement_.erase(offset);
  std::uint64_t off = it->first, len = it->second;
  used_.erase(it);
  in_use_ -= len;
  // Coalesce with the free neighbours.
  auto next = free_.lower_bound(off);
  if (next != free_.end() && off + len == next->first) {
    len += next->second;
    next = free_.erase(next);
  }
  if (next != free_.begin()) {
    auto prev = std::prev(next);
    if (prev->first + prev->second == off) {
      prev->second += len;
      return;
    }
  }
  free_[off] = len;
}

}  // namespace dsm::rt
