// allocator.hpp: collective allocation inside the global space.
//
// Every rank runs the same deterministic first-fit allocator over the same sequence of collective
// calls, so every rank computes the same address without sending it anywhere; the collective check
// of the barrier service catches a rank that calls out of step. Allocations start and end on unit
// boundaries, so two allocations never share a unit. Freed ranges are given back to the OS on every
// rank, so they read as zero when allocated again. Application thread only.
#ifndef DSM_RUNTIME_ALLOC_ALLOCATOR_HPP_
#define DSM_RUNTIME_ALLOC_ALLOCATOR_HPP_

#include <cstdint>
#include <map>
#include <optional>
#include <utility>

#include "dsm/dsm.hpp"

namespace dsm::rt {

class allocator {
 public:
  allocator(std::uint64_t size, std::uint64_t unit) : size_(size), unit_(unit) { free_[0] = size; }
  // The offset of a new range of at least `bytes`, or nothing if the space is exhausted.
  std::optional<std::uint64_t> allocate(std::uint64_t bytes);
  // The length of the allocation starting at offset, or nothing if none starts there.
  std::optional<std::uint64_t> length_of(std::uint64_t offset) const;
  // Releases the allocation at offset, and its placement.
  void release(std::uint64_t offset);
  // The home placement an allocation asked for (dsm::alloc's `where`), if not DSM_HOME's.
  void place(std::uint64_t offset, dsm::placement where) { placement_[offset] = where; }
  std::optional<dsm::placement> placement_of(std::uint64_t offset) const;
  // The allocation that holds byte `offset`, as (start, length), or nothing.
  std::optional<std::pair<std::uint64_t, std::uint64_t>> containing(std::uint64_t offset) const;
  std::uint64_t in_use() const { return in_use_; }
  std::uint64_t capacity() const { return size_; }

 private:
  std::uint64_t size_;
  std::uint64_t unit_;
  std::uint64_t in_use_ = 0;
  std::map<std::uint64_t, std::uint64_t> free_;  // offset -> length
  std::map<std::uint64_t, std::uint64_t> used_;  // offset -> length
  std::map<std::uint64_t, dsm::placement> placement_;  // offset -> the allocation's own placement
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_ALLOC_ALLOCATOR_HPP_
