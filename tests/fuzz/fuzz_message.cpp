// fuzz_message: libFuzzer target for the message decoder and validator (runtime/transport/message.*).
//
// Input: 4 bytes that choose the limits of a job (ranks = 1 + b0 % 64; unit = 4 KiB << (b1 % 4);
// units = 1 + b2 + 256 * b3; max_payload as runtime/facade/wiring.cpp computes it), then the raw bytes of
// one received message: a 48-byte header and its payload, as a queue slot or an MPI message holds it.
//
// The target decodes and validates the message exactly as the engine and application threads do
// (decode_header, then validate). A refused message is fine: the runtime ends the job with a fatal
// error naming the problem. For an accepted one, it checks every promise the receivers rely on
// (ranks in range, unit number in range, payload inside the unit and inside its bulk total) and then
// performs the write the receiver performs, into guarded memory:
//   unit_data            memcpy into the unit at `offset` (runtime/coherence/sequential.cpp, eager_release.cpp)
//   diff_push, diff_fwd  diff_valid over the span [offset, offset + arg2), then diff_apply there
//                        (eager_release.cpp: a diff that is not valid is a fatal error)
//   bulk fragments       memcpy into a reassembly buffer of arg2 bytes at `offset` (engine/context.cpp,
//                        sync/barrier.cpp)
// Each unit and buffer is an exact-size heap allocation filled with a pattern, so AddressSanitizer
// sees a write past it and the target sees a write inside the unit but outside the named span.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "fuzz_common.hpp"
#include "memory/diff.hpp"
#include "transport/message.hpp"

using namespace dsm::rt;
using dsm::fuzz::guarded_unit;

namespace {

bool has_origin(msg m) {
  switch (m) {
    case msg::read_fwd: case msg::write_fwd: case msg::invalidate: case msg::diff_fwd: case msg::lock_acq:
    case msg::lock_try: case msg::lock_fwd: case msg::lock_try_fwd: case msg::lock_try_done: case msg::lock_fwd_node:
    case msg::lock_claim_fwd: return true;
    default: return false;
  }
}

bool names_unit(msg m) {
  switch (m) {
    case msg::read_req: case msg::write_req: case msg::read_fwd: case msg::write_fwd: case msg::unit_data:
    case msg::invalidate: case msg::inv_ack: case msg::confirm: case msg::diff_push: case msg::diff_fwd:
    case msg::diff_ack: case msg::diff_req: case msg::diff_reply: return true;
    default: return false;
  }
}

constexpr std::uint64_t kLargestReassembly = std::uint64_t{1} << 20;  // larger bulk totals: arithmetic only

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* in, std::size_t size) {
  if (size < 4) return 0;
  limits lim;
  lim.ranks = 1 + in[0] % 64;
  lim.unit_size = std::uint64_t{4096} << (in[1] % 4);
  lim.units = 1 + in[2] + 256u * in[3];
  lim.max_payload = static_cast<std::uint32_t>(std::min<std::uint64_t>(lim.unit_size, std::uint64_t{256} << 10)) + 64;
  const std::span<const std::byte> bytes(reinterpret_cast<const std::byte*>(in + 4), size - 4);

  header h;
  if (!decode_header(bytes, h)) {
    FUZZ_REQUIRE(bytes.size() < sizeof(header), "a %zu-byte message has a header", bytes.size());
    return 0;
  }
  const std::span<const std::byte> payload = bytes.subspan(sizeof(header));
  const char* why = validate(h, payload.size(), lim);
  if (why != nullptr) {
    FUZZ_REQUIRE(why[0] != '\0', "a refusal without a reason");
    return 0;
  }

  // Accepted: what every receiver takes for granted.
  FUZZ_REQUIRE(h.magic == header::kMagic, "magic %x", h.magic);
  FUZZ_REQUIRE(h.type > msg{0} && h.type < msg::kLast, "type %u", static_cast<unsigned>(h.type));
  FUZZ_REQUIRE(h.to == inbox::engine || h.to == inbox::app, "inbox %u", static_cast<unsigned>(h.to));
  FUZZ_REQUIRE(h.src >= 0 && h.src < lim.ranks, "src %d of %d", h.src, lim.ranks);
  FUZZ_REQUIRE(h.length == payload.size(), "length %u, payload %zu", h.length, payload.size());
  FUZZ_REQUIRE(h.length <= lim.max_payload, "length %u over max_payload %u", h.length, lim.max_payload);
  if (has_origin(h.type)) FUZZ_REQUIRE(h.origin >= 0 && h.origin < lim.ranks, "origin %d", h.origin);
  if (names_unit(h.type)) FUZZ_REQUIRE(h.id < lim.units, "unit %llu of %llu", (unsigned long long)h.id, (unsigned long long)lim.units);

  if (h.type == msg::unit_data) {
    FUZZ_REQUIRE(std::uint64_t{h.offset} + h.length <= h.arg2 && h.arg2 <= lim.unit_size, "data %u+%u of %llu",
                 h.offset, h.length, (unsigned long long)h.arg2);
    guarded_unit unit(lim.unit_size);
    if (!payload.empty()) std::memcpy(unit.data() + h.offset, payload.data(), payload.size());
    FUZZ_REQUIRE(unit.untouched_outside(h.offset, h.length), "unit data written outside its fragment");
  }

  if (h.type == msg::diff_push || h.type == msg::diff_fwd) {
    FUZZ_REQUIRE(h.offset < lim.unit_size && h.arg2 > 0 && h.arg2 <= lim.unit_size - h.offset, "diff span %u+%llu",
                 h.offset, (unsigned long long)h.arg2);
    guarded_unit unit(lim.unit_size);
    if (diff_valid(payload, h.arg2)) {
      FUZZ_REQUIRE(diff_apply(payload, unit.data() + h.offset, h.arg2), "a valid diff was refused");
      FUZZ_REQUIRE(unit.untouched_outside(h.offset, h.arg2), "a diff wrote outside the span it names");
    } else {
      FUZZ_REQUIRE(!diff_apply(payload, unit.data() + h.offset, h.arg2), "an invalid diff was applied");
      FUZZ_REQUIRE(unit.untouched(), "a refused diff wrote to the unit");
    }
  }

  if (is_bulk(h.type)) {
    FUZZ_REQUIRE(std::uint64_t{h.offset} + h.length <= h.arg2, "bulk fragment %u+%u of %llu", h.offset, h.length,
                 (unsigned long long)h.arg2);
    if (h.arg2 <= kLargestReassembly) {
      guarded_unit buffer(h.arg2);
      if (!payload.empty()) std::memcpy(buffer.data() + h.offset, payload.data(), payload.size());
      FUZZ_REQUIRE(buffer.untouched_outside(h.offset, h.length), "bulk fragment written outside its place");
    }
  }
  return 0;
}
