// shm_queue_test: the shared-memory queue delivers every message once, in order per producer, from
// several producer threads and from another process, and a full ring makes producers wait rather
// than lose or overwrite anything (or, with try_push, refuses the message and wakes the consumer);
// the timed pop times out, takes a message, or ends when nudged.
#include "transport/shm_queue.hpp"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace {
using dsm::rt::shm_queue;

struct record {
  std::uint32_t producer;
  std::uint32_t seq;
};

void* shared(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  EXPECT_NE(p, MAP_FAILED);
  return p;
}

std::span<const std::byte> bytes_of(const record& r) { return {reinterpret_cast<const std::byte*>(&r), sizeof r}; }

TEST(ShmQueue, ManyThreadsSmallRingEveryMessageOnceInOrder) {
  constexpr int kProducers = 4, kEach = 20000;
  const std::size_t n = shm_queue::footprint(8, 64);
  shm_queue* q = shm_queue::create(shared(n), 8, 64);  // tiny ring: producers must wait often
  std::vector<std::thread> producers;
  for (int p = 0; p < kProducers; ++p)
    producers.emplace_back([=] {
      for (int i = 0; i < kEach; ++i) q->push(bytes_of(record{static_cast<std::uint32_t>(p), static_cast<std::uint32_t>(i)}));
    });
  std::vector<std::uint32_t> next(kProducers, 0);
  for (int i = 0; i < kProducers * kEach; ++i) {
    q->pop([&](std::span<const std::byte> b) {
      ASSERT_EQ(b.size(), sizeof(record));
      record r;
      std::memcpy(&r, b.data(), sizeof r);
      ASSERT_LT(r.producer, static_cast<std::uint32_t>(kProducers));
      ASSERT_EQ(r.seq, next[r.producer]);
      ++next[r.producer];
    });
  }
  for (auto& t : producers) t.join();
  for (int p = 0; p < kProducers; ++p) EXPECT_EQ(next[p], static_cast<std::uint32_t>(kEach));
}

TEST(ShmQueue, TwoPartsAreConcatenated) {
  shm_queue* q = shm_queue::create(shared(shm_queue::footprint(4, 128)), 4, 128);
  const char a[] = "head", b[] = "payload";
  q->push({reinterpret_cast<const std::byte*>(a), 4}, {reinterpret_cast<const std::byte*>(b), 7});
  q->pop([](std::span<const std::byte> m) {
    ASSERT_EQ(m.size(), 11u);
    EXPECT_EQ(std::string(reinterpret_cast<const char*>(m.data()), 11), "headpayload");
  });
}

TEST(ShmQueue, AcrossProcesses) {
  const std::size_t n = shm_queue::footprint(16, 64);
  void* mem = shared(n);
  shm_queue* q = shm_queue::create(mem, 16, 64);
  constexpr int kCount = 5000;
  const pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    shm_queue* cq = shm_queue::attach(mem);
    for (int i = 0; i < kCount; ++i) cq->push(bytes_of(record{7, static_cast<std::uint32_t>(i)}));
    _exit(0);
  }
  for (int i = 0; i < kCount; ++i) {
    q->pop([&](std::span<const std::byte> b) {
      record r;
      std::memcpy(&r, b.data(), sizeof r);
      ASSERT_EQ(r.producer, 7u);
      ASSERT_EQ(r.seq, static_cast<std::uint32_t>(i));
    });
  }
  int status = 0;
  waitpid(child, &status, 0);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

// pop_within (DSM_CHAOS's timed wait): times out on an empty ring after about the timeout, takes a
// queued message at once, and wakes for a message pushed while it sleeps.
TEST(ShmQueue, PopWithinTimesOutOrTakesAMessage) {
  const std::size_t n = shm_queue::footprint(8, 64);
  shm_queue* q = shm_queue::create(shared(n), 8, 64);
  int got = 0;
  auto take = [&](std::span<const std::byte> b) { got += static_cast<int>(b.size()); };
  auto t0 = std::chrono::steady_clock::now();
  EXPECT_FALSE(q->pop_within(20'000'000, take));  // 20 ms
  const auto waited = std::chrono::steady_clock::now() - t0;
  EXPECT_GE(waited, std::chrono::milliseconds(19));
  EXPECT_LT(waited, std::chrono::seconds(2));
  EXPECT_FALSE(q->pop_within(0, take));
  q->push(bytes_of(record{1, 2}));
  EXPECT_TRUE(q->pop_within(0, take));
  EXPECT_EQ(got, static_cast<int>(sizeof(record)));
  std::thread later([&] {
    std::this_thread::sleep_for(std::chrono::milliseconds(10));
    q->push(bytes_of(record{3, 4}));
  });
  t0 = std::chrono::steady_clock::now();
  EXPECT_TRUE(q->pop_within(5'000'000'000, take));  // woken by the push, not by the 5 s timeout
  EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4));
  later.join();
  EXPECT_EQ(got, 2 * static_cast<int>(sizeof(record)));
}

}  // namespace

// try_push on a full ring returns false and changes nothing; it rings the doorbell, so a consumer
// asleep on messages sent with wake=false looks at them; a nudge ends a pop_within without a message.
TEST(ShmQueue, TryPushOnAFullRingFailsAndWakesTheConsumer) {
  const std::size_t n = shm_queue::footprint(2, 64);
  shm_queue* q = shm_queue::create(shared(n), 2, 64);
  ASSERT_TRUE(q->try_push(bytes_of(record{0, 0}), {}, false));
  ASSERT_TRUE(q->try_push(bytes_of(record{0, 1}), {}, false));
  std::vector<std::uint32_t> seen;
  auto take = [&](std::span<const std::byte> b) {
    record r;
    std::memcpy(&r, b.data(), sizeof r);
    seen.push_back(r.seq);
  };
  EXPECT_FALSE(q->try_push(bytes_of(record{0, 2})));
  ASSERT_TRUE(q->pop_within(0, take));
  EXPECT_TRUE(q->try_push(bytes_of(record{0, 3})));
  ASSERT_TRUE(q->pop_within(0, take));
  ASSERT_TRUE(q->pop_within(0, take));
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{0, 1, 3})) << "the refused message must not be in the ring";

  // A consumer asleep while messages sent with wake=false fill the ring: the refused push wakes it
  // (else it would sleep out its 5 s, and with no limit forever, as the sender waits for room).
  std::thread consumer([&] {
    const auto t0 = std::chrono::steady_clock::now();
    EXPECT_TRUE(q->pop_within(5'000'000'000, take));
    EXPECT_LT(std::chrono::steady_clock::now() - t0, std::chrono::seconds(4)) << "a full ring did not wake its consumer";
  });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  ASSERT_TRUE(q->try_push(bytes_of(record{0, 4}), {}, false));
  ASSERT_TRUE(q->try_push(bytes_of(record{0, 5}), {}, false));
  EXPECT_FALSE(q->try_push(bytes_of(record{0, 6})));
  consumer.join();
  ASSERT_TRUE(q->pop_within(0, take));
  EXPECT_EQ(seen, (std::vector<std::uint32_t>{0, 1, 3, 4, 5}));

  // A consumer asleep without a time limit: a nudge from another thread ends its wait, message-less.
  std::thread nudger([q] {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
    q->nudge();
  });
  const auto start = std::chrono::steady_clock::now();
  EXPECT_FALSE(q->pop_within(-1, take));
  EXPECT_GE(std::chrono::steady_clock::now() - start, std::chrono::milliseconds(40));
  nudger.join();
  EXPECT_EQ(seen.size(), 5u);
}
