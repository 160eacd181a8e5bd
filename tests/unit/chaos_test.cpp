// chaos_test: the DSM_CHAOS reordering (runtime/transport/chaos.hpp) keeps every sender's order,
// delivers everything it holds once its time has come, really reorders between senders, and makes
// the same choices for the same seed and rank.
#include "transport/chaos.hpp"

#include <gtest/gtest.h>

#include <map>
#include <set>
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
// type_of(src, seq) gives each message's type (default: all read_req).
template <class TypeOf>
std::vector<delivered> run(std::uint64_t seed, int senders, int count, std::uint64_t* held, bool pairs, TypeOf type_of) {
  chaos_inbox c(seed, 1, 0, pairs);
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
    if (c.admit(src, type_of(src, seq), msg, t)) out.push_back({src, seq});
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
std::vector<delivered> run(std::uint64_t seed, int senders, int count, std::uint64_t* held = nullptr) {
  return run(seed, senders, count, held, false, [](int, int) { return dsm::rt::msg::read_req; });
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

// With :pairs, a sender's messages overtake each other, except bulk fragments (kept in sequence),
// a barrier arrival behind its data, and a goodbye behind everything.
TEST(Chaos, PairsModeReordersWithinASenderExceptWhereOrderIsRelied) {
  using dsm::rt::msg;
  constexpr int kSenders = 3, kCount = 6000, kLast = kCount / kSenders - 1;
  auto type_of = [](int, int seq) {
    if (seq == kLast) return msg::goodbye;
    switch (seq % 4) {
      case 0: return msg::lock_token;      // bulk
      case 1: return msg::barrier_data;    // bulk
      case 2: return msg::barrier_arrive;  // after the data before it
      default: return msg::read_req;       // free to overtake
    }
  };
  const auto out = run(5, kSenders, kCount, nullptr, true, type_of);
  ASSERT_EQ(out.size(), static_cast<std::size_t>(kCount));
  std::map<int, int> last_bulk;
  std::set<std::pair<int, int>> data_delivered;
  std::map<int, int> seen;
  int overtaken_in_pair = 0;
  std::map<int, int> highest;
  for (const delivered& d : out) {
    const msg t = type_of(d.src, d.seq);
    if (d.seq < highest[d.src]) ++overtaken_in_pair;
    highest[d.src] = std::max(highest[d.src], d.seq);
    if (t == msg::lock_token || t == msg::barrier_data) {
      auto it = last_bulk.find(d.src);
      EXPECT_TRUE(it == last_bulk.end() || it->second < d.seq) << "bulk fragments of sender " << d.src << " reordered";
      last_bulk[d.src] = d.seq;
      if (t == msg::barrier_data) data_delivered.insert({d.src, d.seq});
    }
    if (t == msg::barrier_arrive) {
      EXPECT_TRUE(data_delivered.count({d.src, d.seq - 1})) << "a barrier arrival overtook its data (sender " << d.src << ")";
    }
    if (t == msg::goodbye) {
      EXPECT_EQ(seen[d.src], kLast) << "a goodbye overtook earlier messages of sender " << d.src;
    }
    ++seen[d.src];
  }
  EXPECT_GT(overtaken_in_pair, 50) << "messages of one sender should overtake each other";
}

}  // namespace
