// diff.hpp: twins and diffs, the multiple-writer mechanism of the release-consistent models.
//
// A diff is the encoded difference between a unit (or a span of it) and its twin, exact to the
// byte: a sequence of runs, each [u32 offset][u32 length][length bytes], offsets relative to the
// span's start. Two ranks that write disjoint bytes of one word in the same interval produce
// disjoint runs, so applying both keeps both writes. encode() compares 64 bytes at a time and
// looks at single bytes only inside blocks that differ (PERFORMANCE.md: a 4 KiB unit with nothing
// changed costs ~40 ns this way). apply() checks every run against the span before it writes a
// byte, so a malformed diff is refused whole. Pure functions; thread safe.
#ifndef DSM_RUNTIME_MEMORY_DIFF_HPP_
#define DSM_RUNTIME_MEMORY_DIFF_HPP_

#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace dsm::rt {

// Appends to `out` the runs where `now` differs from `twin` (both `bytes` long). Returns the
// number of bytes appended (0 when nothing changed).
std::size_t diff_encode(const std::byte* twin, const std::byte* now, std::size_t bytes, std::vector<std::byte>& out);

// True if `diff` is well formed and every run lies inside a span of `bytes` bytes.
bool diff_valid(std::span<const std::byte> diff, std::size_t bytes);

// Writes the runs of a valid diff into dst (a span of `bytes` bytes); false, writing nothing, if
// the diff is not valid.
bool diff_apply(std::span<const std::byte> diff, std::byte* dst, std::size_t bytes);

// Cuts a valid diff into pieces of at most max_piece bytes each (max_piece > 8), each itself a
// valid diff; a run too long for one piece is split in two runs. Applying the pieces in any order
// has the effect of applying the whole.
std::vector<std::vector<std::byte>> diff_split(std::span<const std::byte> diff, std::size_t max_piece);

// The number of changed bytes a valid diff carries.
std::size_t diff_payload_bytes(std::span<const std::byte> diff);

// True if `diff` is valid and turns a copy of `twin` into `now` (both `bytes` long). Allocates a
// copy; for invariant checks (DSM_INVARIANTS=1) and tests.
bool diff_reproduces(std::span<const std::byte> diff, const std::byte* twin, const std::byte* now, std::size_t bytes);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_MEMORY_DIFF_HPP_
