// bindings.hpp: which ranges of the global space are bound to which lock (entry consistency).
//
// dsm::mutex::bind is collective, so every rank holds the same table, built by the same calls in the
// same order. A range is [offset, offset + bytes) in the global space; ranges never overlap, and a
// lock may guard several, kept in the order they were bound: that order is the layout of the bound
// data a lock grant carries. Not thread safe: the caller holds state_mu (or op_mu on the
// application thread, which is the only writer).
#ifndef DSM_RUNTIME_COHERENCE_BINDINGS_HPP_
#define DSM_RUNTIME_COHERENCE_BINDINGS_HPP_

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

namespace dsm::rt {

class bindings {
 public:
  struct range {
    std::uint64_t offset;
    std::uint64_t bytes;
    std::uint64_t lock;
  };

  // Nothing if [offset, offset + bytes) can be bound, else why not (it overlaps a bound range).
  std::string conflict(std::uint64_t offset, std::uint64_t bytes) const;
  void add(std::uint64_t lock, std::uint64_t offset, std::uint64_t bytes);
  // Forgets every range inside [first, end) (the memory was freed).
  void remove_within(std::uint64_t first, std::uint64_t end);

  bool empty() const { return by_offset_.empty(); }
  // The ranges of a lock, in bind order, and their total size.
  const std::vector<range>& of_lock(std::uint64_t lock) const;
  std::uint64_t bytes_of_lock(std::uint64_t lock) const;
  // The range that contains offset, or null.
  const range* find(std::uint64_t offset) const;
  // Calls fn(range, lo, hi) for every range that intersects [first, end), with the intersection.
  template <class Fn>
  void for_each_in(std::uint64_t first, std::uint64_t end, Fn&& fn) const {
    auto it = by_offset_.upper_bound(first);
    if (it != by_offset_.begin()) --it;
    for (; it != by_offset_.end() && it->first < end; ++it) {
      const range& r = it->second;
      const std::uint64_t lo = r.offset > first ? r.offset : first;
      const std::uint64_t hi = r.offset + r.bytes < end ? r.offset + r.bytes : end;
      if (lo < hi) fn(r, lo, hi);
    }
  }

 private:
  std::map<std::uint64_t, range> by_offset_;
  std::unordered_map<std::uint64_t, std::vector<range>> by_lock_;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_COHERENCE_BINDINGS_HPP_
