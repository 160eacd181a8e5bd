// make_seeds: writes the seed corpus of the fuzz targets (tests/fuzz/corpus/<target>/) from the real
// encoders: headers filled in as the protocols fill them (and as transport::send completes them:
// src and length), unit data, diffs made by diff_encode, lazy-release diff replies and lock
// payloads laid out as lazy_release.cpp lays them out. Run by hand after a change to the wire
// format: `build-fuzz/make_seeds tests/fuzz/corpus` (tests/fuzz/run-fuzz.sh builds it).
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "memory/diff.hpp"
#include "transport/message.hpp"

using namespace dsm::rt;
namespace fs = std::filesystem;

namespace {

constexpr int kRanks = 4;
constexpr std::uint64_t kUnit = 4096;
constexpr std::uint64_t kUnits = 1000;
// fuzz_message's limits preamble for 4 ranks, 4 KiB units, 1000 units.
const std::uint8_t kLimits[4] = {kRanks - 1, 0, (kUnits - 1) % 256, (kUnits - 1) / 256};

void write(const fs::path& file, const std::vector<std::byte>& bytes) {
  std::ofstream out(file, std::ios::binary);
  out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
}

template <class T>
void put(std::vector<std::byte>& out, T v) {
  const std::size_t at = out.size();
  out.resize(at + sizeof v);
  std::memcpy(out.data() + at, &v, sizeof v);
}

// A message as the receiver sees it: the limits preamble, the header (src and length filled in as
// transport::send fills them), the payload.
void message(const fs::path& dir, const std::string& name, header h, int src, const std::vector<std::byte>& payload) {
  h.src = src;
  h.length = static_cast<std::uint32_t>(payload.size());
  const limits lim{kRanks, kUnits, kUnit, static_cast<std::uint32_t>(kUnit) + 64};  // as fuzz_message reads kLimits
  if (const char* why = validate(h, payload.size(), lim)) {
    std::fprintf(stderr, "make_seeds: the %s seed is not a valid message: %s\n", name.c_str(), why);
    std::exit(1);
  }
  std::vector<std::byte> bytes(reinterpret_cast<const std::byte*>(kLimits), reinterpret_cast<const std::byte*>(kLimits) + 4);
  const auto* hb = reinterpret_cast<const std::byte*>(&h);
  bytes.insert(bytes.end(), hb, hb + sizeof h);
  bytes.insert(bytes.end(), payload.begin(), payload.end());
  write(dir / (name + ".bin"), bytes);
}

// A unit before and after a few writes, and the diff between them.
std::vector<std::byte> unit_bytes(bool written) {
  std::vector<std::byte> u(kUnit, std::byte{0});
  if (written) {
    for (std::size_t i = 0; i < 8; ++i) u[64 + i] = std::byte{static_cast<unsigned char>(i + 1)};
    u[1000] = std::byte{0x5a};
    for (std::size_t i = 3000; i < 3100; ++i) u[i] = std::byte{static_cast<unsigned char>(i)};
  }
  return u;
}

std::vector<std::byte> a_diff() {
  const auto twin = unit_bytes(false), now = unit_bytes(true);
  std::vector<std::byte> d;
  diff_encode(twin.data(), now.data(), kUnit, d);
  return d;
}

void message_seeds(const fs::path& dir) {
  const std::uint64_t u = 42;
  const auto data = unit_bytes(true);
  const auto diff = a_diff();
  message(dir, "read_req", {.type = msg::read_req, .to = inbox::engine, .id = u}, 1, {});
  message(dir, "write_req", {.type = msg::write_req, .to = inbox::engine, .id = u}, 1, {});
  message(dir, "read_fwd", {.type = msg::read_fwd, .to = inbox::engine, .origin = 1, .id = u}, 2, {});
  message(dir, "write_fwd", {.type = msg::write_fwd, .to = inbox::engine, .origin = 1, .id = u, .arg = 2, .arg2 = 1}, 2, {});
  message(dir, "unit_data_read", {.type = msg::unit_data, .to = inbox::app, .flags = 1, .id = u, .arg = 0, .arg2 = kUnit}, 3, data);
  message(dir, "unit_data_upgrade", {.type = msg::unit_data, .to = inbox::app, .flags = 2, .id = u, .arg = 2, .arg2 = 0}, 2, {});
  message(dir, "invalidate", {.type = msg::invalidate, .to = inbox::engine, .origin = 1, .id = u}, 2, {});
  message(dir, "inv_ack", {.type = msg::inv_ack, .to = inbox::app, .id = u}, 3, {});
  message(dir, "confirm", {.type = msg::confirm, .to = inbox::engine, .id = u}, 1, {});
  message(dir, "diff_push", {.type = msg::diff_push, .to = inbox::engine, .id = u, .arg2 = kUnit, .offset = 0}, 1, diff);
  message(dir, "diff_fwd", {.type = msg::diff_fwd, .to = inbox::engine, .origin = 1, .id = u, .arg2 = kUnit, .offset = 0}, 2, diff);
  message(dir, "diff_ack_home", {.type = msg::diff_ack, .to = inbox::app, .flags = 1, .id = u, .arg = 2}, 2, {});
  message(dir, "diff_ack", {.type = msg::diff_ack, .to = inbox::app, .id = u}, 3, {});
  std::vector<std::byte> intervals;
  put<std::uint32_t>(intervals, 3);
  put<std::uint32_t>(intervals, 5);
  message(dir, "diff_req", {.type = msg::diff_req, .to = inbox::engine, .id = u}, 1, intervals);
  std::vector<std::byte> reply;  // [u32 interval][u32 bytes][diff]
  put<std::uint32_t>(reply, 3);
  put<std::uint32_t>(reply, static_cast<std::uint32_t>(diff.size()));
  reply.insert(reply.end(), diff.begin(), diff.end());
  message(dir, "diff_reply", {.type = msg::diff_reply, .to = inbox::app, .id = u, .arg2 = reply.size(), .offset = 0}, 2, reply);
  std::vector<std::byte> vc;  // a lazy-release lock request: the acquirer's vector time
  for (int r = 0; r < kRanks; ++r) put<std::uint32_t>(vc, static_cast<std::uint32_t>(r + 1));
  message(dir, "lock_acq", {.type = msg::lock_acq, .to = inbox::engine, .origin = 1, .id = 7}, 1, vc);
  message(dir, "lock_fwd", {.type = msg::lock_fwd, .to = inbox::engine, .origin = 1, .id = 7}, 3, vc);
  message(dir, "lock_try", {.type = msg::lock_try, .to = inbox::engine, .origin = 1, .id = 7}, 1, {});
  message(dir, "lock_try_fwd", {.type = msg::lock_try_fwd, .to = inbox::engine, .origin = 1, .id = 7}, 3, {});
  message(dir, "lock_try_done", {.type = msg::lock_try_done, .to = inbox::engine, .origin = 1, .id = 7, .arg = 1}, 2, {});
  message(dir, "lock_try_fail", {.type = msg::lock_try_fail, .to = inbox::app, .id = 7}, 3, {});
  message(dir, "lock_token_empty", {.type = msg::lock_token, .to = inbox::app, .id = 7, .arg2 = 0}, 2, {});
  std::vector<std::byte> notices;  // one interval: rank, index, vector time, write notices
  put<std::int32_t>(notices, 2);
  put<std::uint32_t>(notices, 4);
  for (int r = 0; r < kRanks; ++r) put<std::uint32_t>(notices, r == 2 ? 4u : 1u);
  put<std::uint32_t>(notices, 2);
  put<std::uint64_t>(notices, u);
  put<std::uint64_t>(notices, u + 1);
  message(dir, "lock_token", {.type = msg::lock_token, .to = inbox::app, .id = 7, .arg2 = notices.size()}, 2, notices);
  message(dir, "barrier_data", {.type = msg::barrier_data, .to = inbox::engine, .id = 9, .arg2 = notices.size()}, 1, notices);
  message(dir, "barrier_arrive", {.type = msg::barrier_arrive, .to = inbox::engine, .id = 9, .arg = 2, .arg2 = 0}, 1, {});
  message(dir, "barrier_release", {.type = msg::barrier_release, .to = inbox::app, .id = 9, .arg2 = 0}, 0, {});
  message(dir, "barrier_pass", {.type = msg::barrier_pass, .to = inbox::engine, .id = 9, .arg2 = notices.size()}, 0, notices);
  message(dir, "barrier_swap", {.type = msg::barrier_swap, .to = inbox::app, .id = 9, .arg = 2, .arg2 = notices.size()}, 1, notices);
  message(dir, "goodbye", {.type = msg::goodbye, .to = inbox::engine}, 3, {});
  message(dir, "cv_wait", {.type = msg::cv_wait, .to = inbox::engine, .id = 11, .arg = 7}, 1, {});
  message(dir, "cv_queued", {.type = msg::cv_queued, .to = inbox::app, .id = 11, .arg = kCvQueued}, 3, {});
  message(dir, "cv_notify", {.type = msg::cv_notify, .to = inbox::engine, .id = 11, .arg = kCvNotifyAll}, 2, {});
  message(dir, "cv_notified", {.type = msg::cv_notified, .to = inbox::app, .id = 11, .arg = 1}, 3, {});
  message(dir, "cv_signal", {.type = msg::cv_signal, .to = inbox::engine, .id = 11}, 3, {});
  message(dir, "cv_wake", {.type = msg::cv_wake, .to = inbox::app, .id = 11}, 1, {});
  message(dir, "cv_wait_timed", {.type = msg::cv_wait, .to = inbox::engine, .id = 11, .arg = 7, .arg2 = kCvTimed}, 2, {});
  message(dir, "cv_cancel", {.type = msg::cv_cancel, .to = inbox::engine, .id = 11}, 2, {});
  message(dir, "cv_cancelled", {.type = msg::cv_cancelled, .to = inbox::app, .id = 11, .arg = 0}, 3, {});
  message(dir, "finalizing", {.type = msg::finalizing, .to = inbox::engine}, 2, {});
}

void diff_seeds(const fs::path& dir) {
  // Preamble: span selector (span = 1 + sel % unit), offset selector, unit selector, piece selector.
  auto seed = [&](const std::string& name, std::uint16_t span_sel, std::uint16_t offset_sel, std::uint8_t unit_sel,
                  std::uint8_t piece_sel, const std::vector<std::byte>& body) {
    std::vector<std::byte> bytes;
    put(bytes, span_sel);
    put(bytes, offset_sel);
    put(bytes, unit_sel);
    put(bytes, piece_sel);
    bytes.insert(bytes.end(), body.begin(), body.end());
    write(dir / (name + ".bin"), bytes);
  };
  const auto diff = a_diff();
  seed("whole_unit", kUnit - 1, 0, 0, 100, diff);
  seed("half_span", kUnit / 2 - 1, 1024, 0, 20, diff);  // runs past 2048 do not fit: refused
  std::vector<std::byte> twin(64, std::byte{1}), now = twin;
  now[3] = std::byte{9};
  now[40] = std::byte{7};
  std::vector<std::byte> small;
  diff_encode(twin.data(), now.data(), twin.size(), small);
  seed("small_span", 63, 100, 1, 0, small);
  std::vector<std::byte> pair = twin;  // the encoding half: twin then now
  pair.insert(pair.end(), now.begin(), now.end());
  seed("twin_now", 63, 0, 0, 5, pair);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_seeds <corpus-dir>\n");
    return 2;
  }
  const fs::path root(argv[1]);
  fs::create_directories(root / "fuzz_message");
  fs::create_directories(root / "fuzz_diff");
  message_seeds(root / "fuzz_message");
  diff_seeds(root / "fuzz_diff");
  std::printf("seeds written under %s\n", argv[1]);
  return 0;
}
