// chaos_test: the DSM_CHAOS reordering (runtime/transport/chaos.hpp) keeps every sender's order,
// delivers everything it holds once its time has come, really reorders between senders, and makes
// the same choices for the same seed and rank.
#include "transport/chaos.hpp"

#include <gtest/gtest.h>

#include <map>
#include <vector>

namespace {

using dsm::rt::chaos_inbox;
using clock_type = chaos_inbox::clock;

struct delivered {
  int src;
  int seq;
};

// Feeds `count` messages from `senders` senders round-robin, one every 10 us of simulated time, and
// drains held ones as they fall due; returns the delivery order.
std::vector<delivered> run(std::uint64_t seed, int senders, int count, std::uint64_t* held = nullptr) {
  chaos_inbox c(seed, 1, 0);
  std::vector<delivered> out;
  auto t = clock_type::time_point{} + std::chrono::seconds(1);
  auto decode = [](const std::vector<std::byte>& b) {
    return delivered{static_cast<int>(b[0]), static_cast<int>(b[1]) | static_cast<int>(b[2]) << 8};
  };
  std::vector<std::byte> buf;
  for (int i = 0; i < count; ++i) {
    while (c.take_due(t, buf)) out.push_back(decode(buf));
    const int src = i % senders, seq = i / senders;
    std::vector<std::byte> msg{std::byte(src), std::byte(seq & 0xff), std::byte(seq >> 8)};
    if (c.admit(src, msg, t)) out.push_back({src, seq});
    t += std::chrono::microseconds(10);
  }
  while (c.held() != 0) {
    const std::int64_t ns = c.wait_ns(t);
    EXPECT_GE(ns, 0);
    t += std::chrono::nanoseconds(ns);
    while (c.take_due(t, buf)) out.push_back(decode(buf));
  }
  EXPECT_EQ(c.wait_ns(t), -1);
  if (held) *held = c.held_total();
  return out;
}

TEST(Chaos, KeepsPerSenderOrderDeliversAllAndReorders) {
  std::uint64_t held = 0;
  const auto out = run(7, 4, 4000, &held);
  ASSERT_EQ(out.size(), 4000u);
  std::map<int, int> next;
  int overtaken = 0;
  for (std::size_t i = 0; i < out.size(); ++i) {
    EXPECT_EQ(out[i].seq, next[out[i].src]++) << "sender " << out[i].src << " out of order at " << i;
    const int arrival = out[i].seq * 4 + out[i].src;
    if (arrival < static_cast<int>(i)) ++overtaken;
  }
  // A quarter are held on their own; more are held behind an earlier message of their sender.
  EXPECT_GT(held, 1000u);
  EXPECT_LT(held, 4000u) << "some messages must go straight through";
  EXPECT_GT(overtaken, 100) << "messages of other senders should overtake held ones";
}

TEST(Chaos, SameSeedSameChoicesOtherSeedOtherChoices) {
  const auto a = run(11, 3, 900), b = run(11, 3, 900), c = run(12, 3, 900);
  auto same = [](const std::vector<delivered>& x, const std::vector<delivered>& y) {
    if (x.size() != y.size()) return false;
    for (std::size_t i = 0; i < x.size(); ++i)
      if (x[i].src != y[i].src || x[i].seq != y[i].seq) return false;
    return true;
  };
  EXPECT_TRUE(same(a, b));
  EXPECT_FALSE(same(a, c));
}

}  // namespace
