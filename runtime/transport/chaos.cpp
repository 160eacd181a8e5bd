// chaos.cpp: see chaos.hpp.
#include "transport/chaos.hpp"

#include <algorithm>
#include <thread>

namespace dsm::rt {
namespace {
constexpr std::uint64_t kHoldOneIn = 4;
constexpr std::int64_t kMinHoldUs = 20, kMaxHoldUs = 2000;
constexpr std::uint64_t kDelaySendOneIn = 8;
constexpr std::int64_t kMinSendDelayUs = 20, kMaxSendDelayUs = 500;

// splitmix64: spreads (seed, rank, inbox) into unrelated generator seeds.
std::uint64_t mix(std::uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
}  // namespace

chaos_inbox::chaos_inbox(std::uint64_t seed, int rank, int box, bool pairs)
    : rng_(mix(mix(seed) ^ (static_cast<std::uint64_t>(rank) << 8) ^ static_cast<std::uint64_t>(box))), pairs_(pairs) {}

bool chaos_inbox::must_follow(msg earlier, msg later) const {
  if (!pairs_) return true;                              // per-pair FIFO, as MPI gives on one tag
  if (is_bulk(earlier) && is_bulk(later)) return true;   // fragments are reassembled in sequence
  if (earlier == msg::barrier_data && later == msg::barrier_arrive) return true;  // data before arrival
  return later == msg::goodbye;                          // nothing may follow a goodbye
}

bool chaos_inbox::admit(int src, msg type, std::span<const std::byte> bytes, clock::time_point now) {
  // Behind an earlier held message of the same sender that it must follow: held too, due with it.
  clock::time_point due{};
  bool behind = false;
  for (const held_message& m : held_) {
    if (m.src == src && must_follow(m.type, type)) {
      due = behind ? std::max(due, m.due) : m.due;
      behind = true;
    }
  }
  if (!behind) {
    if (rng_() % kHoldOneIn != 0) return true;
    std::uniform_int_distribution<std::int64_t> us(kMinHoldUs, kMaxHoldUs);
    due = now + std::chrono::microseconds(us(rng_));
  }
  held_.push_back({src, type, due, std::vector<std::byte>(bytes.begin(), bytes.end())});
  ++held_total_;
  return false;
}

bool chaos_inbox::take_due(clock::time_point now, std::vector<std::byte>& out) {
  // The first due one in arrival order: an earlier message it must follow has a due time no later
  // than it, so it is due too and comes first.
  for (auto it = held_.begin(); it != held_.end(); ++it) {
    if (it->due <= now) {
      out = std::move(it->bytes);
      held_.erase(it);
      return true;
    }
  }
  return false;
}

std::int64_t chaos_inbox::wait_ns(clock::time_point now) const {
  if (held_.empty()) return -1;
  clock::time_point first = held_.front().due;
  for (const held_message& m : held_) first = std::min(first, m.due);
  if (first <= now) return 0;
  return std::chrono::duration_cast<std::chrono::nanoseconds>(first - now).count();
}

chaos_sender::chaos_sender(std::uint64_t seed, int rank) : rng_(mix(mix(seed) ^ (static_cast<std::uint64_t>(rank) << 8) ^ 0xff)) {}

void chaos_sender::maybe_delay() {
  std::int64_t sleep_us = 0;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (rng_() % kDelaySendOneIn != 0) return;
    std::uniform_int_distribution<std::int64_t> us(kMinSendDelayUs, kMaxSendDelayUs);
    sleep_us = us(rng_);
  }
  std::this_thread::sleep_for(std::chrono::microseconds(sleep_us));
}

}  // namespace dsm::rt
