// fuzz_diff: libFuzzer target for diff decoding and application (runtime/memory/diff.*).
//
// Input: a 6-byte preamble, then bytes used two ways.
//   preamble: u16 span selector, u16 offset selector, u8 unit selector, u8 piece selector.
// 1. Decoding: the rest of the input is a received diff. It is applied, as the eager-release home
//    applies a diff_push, to the span [offset, offset + span) of a unit (4 KiB << (unit selector % 3)),
//    an exact-size heap allocation filled with a pattern. Properties: diff_apply accepts exactly what
//    diff_valid accepts; a refused diff writes nothing; an accepted one changes only bytes its runs
//    name, and those to the run's bytes (checked against an independent reading of the format);
//    diff_payload_bytes counts those bytes; diff_split into pieces of at most max_piece bytes gives
//    valid pieces, none larger, whose application equals the whole diff's.
// 2. Encoding: the rest of the input, cut in two halves, is a twin and a unit now (exact-size heap
//    copies). diff_encode must produce a valid diff that turns the twin into now, and nothing for
//    equal inputs.
// Out-of-bounds reads and writes are AddressSanitizer's to catch; the properties abort on failure.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_common.hpp"
#include "memory/diff.hpp"

using namespace dsm::rt;
using dsm::fuzz::guarded_unit;
using dsm::fuzz::load;

namespace {

// The diff format read independently of diff.cpp: [u32 offset][u32 length][bytes]... Returns false
// for anything malformed or outside `span`, else applies the runs to `dst`.
bool reference_apply(const std::byte* d, std::size_t n, std::byte* dst, std::size_t span, std::size_t& payload) {
  std::size_t at = 0;
  payload = 0;
  std::vector<std::pair<std::uint32_t, std::uint32_t>> runs;
  while (at < n) {
    if (n - at < 8) return false;
    const auto offset = load<std::uint32_t>(reinterpret_cast<const std::uint8_t*>(d + at));
    const auto length = load<std::uint32_t>(reinterpret_cast<const std::uint8_t*>(d + at + 4));
    at += 8;
    if (length == 0 || length > n - at) return false;
    if (std::uint64_t{offset} + length > span) return false;
    runs.emplace_back(offset, static_cast<std::uint32_t>(at));
    payload += length;
    at += length;
  }
  for (auto [offset, from] : runs) {
    const auto length = load<std::uint32_t>(reinterpret_cast<const std::uint8_t*>(d + from - 4));
    std::memcpy(dst + offset, d + from, length);
  }
  return true;
}

void check_decoding(const std::uint8_t* pre, std::span<const std::byte> diff) {
  const std::size_t unit_bytes = std::size_t{4096} << (pre[4] % 3);
  const std::size_t span = 1 + load<std::uint16_t>(pre) % unit_bytes;
  const std::size_t offset = load<std::uint16_t>(pre + 2) % (unit_bytes - span + 1);

  // The diff itself in an exact-size allocation, so that reading past it is caught too.
  std::unique_ptr<std::byte[]> owned(new std::byte[diff.size() + 1]);
  if (!diff.empty()) std::memcpy(owned.get(), diff.data(), diff.size());
  const std::span<const std::byte> d(owned.get(), diff.size());

  guarded_unit unit(unit_bytes);
  guarded_unit expect(unit_bytes);
  std::size_t payload = 0;
  const bool reference_ok = reference_apply(d.data(), d.size(), expect.data() + offset, span, payload);
  const bool valid = diff_valid(d, span);
  FUZZ_REQUIRE(valid == reference_ok, "diff_valid says %d, the format says %d (%zu bytes, span %zu)", valid,
               reference_ok, d.size(), span);
  const bool applied = diff_apply(d, unit.data() + offset, span);
  FUZZ_REQUIRE(applied == valid, "diff_apply %d but diff_valid %d", applied, valid);
  if (!applied) {
    FUZZ_REQUIRE(unit.untouched(), "a refused diff wrote to the unit");
    return;
  }
  FUZZ_REQUIRE(unit.untouched_outside(offset, span), "a diff wrote outside its span");
  FUZZ_REQUIRE(std::memcmp(unit.data(), expect.data(), unit_bytes) == 0, "diff_apply differs from the format");
  FUZZ_REQUIRE(diff_payload_bytes(d) == payload, "payload bytes %zu, runs carry %zu", diff_payload_bytes(d), payload);

  const std::size_t max_piece = 9 + pre[5] % 300;
  guarded_unit pieces_applied(unit_bytes);
  for (const auto& piece : diff_split(d, max_piece)) {
    FUZZ_REQUIRE(!piece.empty() && piece.size() <= max_piece, "a piece of %zu bytes, max %zu", piece.size(), max_piece);
    std::unique_ptr<std::byte[]> p(new std::byte[piece.size()]);
    std::memcpy(p.get(), piece.data(), piece.size());
    FUZZ_REQUIRE(diff_apply({p.get(), piece.size()}, pieces_applied.data() + offset, span), "a piece is not valid");
  }
  FUZZ_REQUIRE(std::memcmp(pieces_applied.data(), unit.data(), unit_bytes) == 0, "the pieces differ from the whole");
}

void check_encoding(std::span<const std::byte> rest) {
  const std::size_t n = rest.size() / 2;
  if (n == 0) return;
  std::unique_ptr<std::byte[]> twin(new std::byte[n]), now(new std::byte[n]), result(new std::byte[n]);
  std::memcpy(twin.get(), rest.data(), n);
  std::memcpy(now.get(), rest.data() + n, n);
  std::vector<std::byte> diff;
  const std::size_t bytes = diff_encode(twin.get(), now.get(), n, diff);
  FUZZ_REQUIRE(bytes == diff.size(), "encode returned %zu for %zu bytes", bytes, diff.size());
  FUZZ_REQUIRE(diff_valid(diff, n), "an encoded diff is not valid");
  std::memcpy(result.get(), twin.get(), n);
  FUZZ_REQUIRE(diff_apply(diff, result.get(), n), "an encoded diff was refused");
  FUZZ_REQUIRE(std::memcmp(result.get(), now.get(), n) == 0, "twin + diff != now");
  std::vector<std::byte> none;
  FUZZ_REQUIRE(diff_encode(now.get(), now.get(), n, none) == 0 && none.empty(), "a diff between equal units");
  // Appending to a non-empty vector leaves what was there.
  std::vector<std::byte> appended{std::byte{0xAB}};
  diff_encode(twin.get(), now.get(), n, appended);
  FUZZ_REQUIRE(appended.size() == diff.size() + 1 && appended[0] == std::byte{0xAB} &&
                   (diff.empty() || std::memcmp(appended.data() + 1, diff.data(), diff.size()) == 0),
               "encode into a non-empty vector");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* in, std::size_t size) {
  if (size < 6) return 0;
  const std::span<const std::byte> rest(reinterpret_cast<const std::byte*>(in + 6), size - 6);
  check_decoding(in, rest);
  check_encoding(rest);
  return 0;
}
