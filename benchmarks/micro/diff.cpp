// micro_diff: diff creation throughput: the runtime's diff_encode (runtime/memory/diff.hpp) of one
// unit against its twin, next to the floor of what any encoder must do, both timed in this run:
// compare the whole unit (memcmp of two equal units, so it cannot stop early) and copy the changed
// bytes out (memcpy of that many bytes). Three rows: nothing changed (diff_0pct), one 8-byte word in
// every 800 bytes changed (diff_1pct, about 1%), every byte changed (diff_100pct). Each row is the
// median over batches of 50 encodes (short, so that few batches are preempted on a shared machine)
// of the time per encode; encode and floor batches alternate; `check` gives the throughput in GB/s
// of unit encoded. Every diff made is applied back to a copy of the twin and must give the unit
// exactly (else exit 1). One process, no MPI and no consistency model involved: run it directly.
//
// Usage: ./micro_diff [--size smoke|quick|full] [--unit bytes=4096]
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "memory/diff.hpp"
#include "micro_common.hpp"

namespace {

volatile int g_sink;  // keeps the floor's memcmp from being optimised away

}  // namespace

int main(int argc, char** argv) {
  std::size_t unit = 4096;
  std::vector<char*> rest{argv[0]};
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--unit") == 0 && i + 1 < argc) {
      unit = std::strtoul(argv[++i], nullptr, 10);
    } else {
      rest.push_back(argv[i]);
    }
  }
  if (unit < 64) {
    std::fprintf(stderr, "micro_diff: --unit must be at least 64 bytes\n");
    return 2;
  }
  const micro::options opt = micro::parse_options(static_cast<int>(rest.size()), rest.data(), "micro_diff");
  const long batch = 50, batches = opt.reps(400);

  std::vector<std::byte> twin(unit), now(unit), copy(unit), other(unit);
  for (std::size_t i = 0; i < unit; ++i) twin[i] = static_cast<std::byte>(i * 31 + 7);
  std::vector<std::byte> out;
  out.reserve(2 * unit + 64);

  struct variant {
    const char* op;
    std::size_t stride;  // change one 8-byte word every `stride` bytes; 0: nothing; 1: every byte
  };
  const variant variants[] = {{"diff_0pct", 0}, {"diff_1pct", 800}, {"diff_100pct", 1}};
  bool all_ok = true;
  micro::print_header(("micro_diff: unit " + std::to_string(unit) + " B, " + std::to_string(batches) +
                       " batches of " + std::to_string(batch)).c_str());
  for (const variant& v : variants) {
    now = twin;
    std::size_t changed = 0;
    if (v.stride == 1) {
      for (std::size_t i = 0; i < unit; ++i) now[i] = ~twin[i];
      changed = unit;
    } else if (v.stride > 0) {
      for (std::size_t at = 0; at + 8 <= unit; at += v.stride) {
        for (std::size_t k = at; k < at + 8; ++k) now[k] = ~twin[k];
        changed += 8;
      }
    }

    std::vector<double> encode_us, floor_us;
    for (long b = 0; b <= batches; ++b) {  // batch 0 warms up
      auto t0 = micro::clock_type::now();
      for (long i = 0; i < batch; ++i) {
        out.clear();
        dsm::rt::diff_encode(twin.data(), now.data(), unit, out);
      }
      const double e = micro::micros_since(t0) / static_cast<double>(batch);

      other = twin;  // an equal unit: memcmp must read all of it
      t0 = micro::clock_type::now();
      for (long i = 0; i < batch; ++i) {
        g_sink = std::memcmp(twin.data(), other.data(), unit);
        std::memcpy(copy.data(), now.data(), changed);
        std::atomic_signal_fence(std::memory_order_seq_cst);
      }
      const double f = micro::micros_since(t0) / static_cast<double>(batch);
      if (b > 0) {
        encode_us.push_back(e);
        floor_us.push_back(f);
      }
    }

    // The last diff made must rebuild the unit from the twin.
    copy = twin;
    const bool applied = dsm::rt::diff_apply(out, copy.data(), unit);
    const bool ok = applied && copy == now && dsm::rt::diff_payload_bytes(out) == changed;
    all_ok &= ok;
    const double med = micro::median(encode_us);
    char check[200];
    std::snprintf(check, sizeof check, "%s; %zu bytes changed; %.2f GB/s of unit encoded",
                  ok ? "the diff rebuilds the unit from its twin" : "THE DIFF DOES NOT REBUILD THE UNIT", changed,
                  med > 0 ? static_cast<double>(unit) / (med * 1e3) : 0.0);
    micro::print_row({.bench = "diff", .op = v.op, .model = "", .ranks = 1, .size = opt.size, .median_us = med,
                      .floor_us = micro::median(floor_us), .floor = "memcmp of the unit + memcpy of the changed bytes",
                      .samples = batches, .verified = ok, .check = check});
  }
  return all_ok ? 0 : 1;
}
