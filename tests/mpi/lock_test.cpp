// lock_test.cpp: dsm::mutex gives mutual exclusion that a user can count on. Every rank increments
// shared counters under a global lock, through each way the API offers to take it (std::lock_guard,
// std::scoped_lock over two locks, std::unique_lock, the C functions dsm_lock_acquire/release), and
// after a barrier every rank must read exactly ranks() * iterations. Also checks try_lock against a
// holder on another rank, and reads under std::shared_lock. All accesses are ordered by the locks
// or by barriers, so every check holds under every consistency model. Misuse a rank can see alone
// (releasing a lock it does not hold, acquiring one twice) throws dsm::error. A rank that takes a
// lock over and over cannot keep it from the others: each of them gets it while that rank still
// hammers it (the documented bound: only re-acquisitions made before a waiter's request reaches
// the holder pass it).
#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <string>
#include <mutex>
#include <shared_mutex>

#include "dsm/dsm.h"
#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

constexpr int kIterations = 60;

// The expected value of a counter that every rank bumped `per_rank` times.
long expected(int per_rank) { return static_cast<long>(dsm::ranks()) * per_rank; }

// Data guarded by a lock is bound to it (entry consistency needs that, the other models ignore it)
// and read back under that lock: under entry consistency a barrier does not carry bound data.
long read_under(dsm::mutex& m, const long* p) {
  std::shared_lock reader(m);
  return *p;
}

TEST_F(collective, lock_guard_counter_is_exact) {
  long* counter = dsm::alloc<long>(1);
  dsm::mutex m{1};
  m.bind(counter, sizeof *counter);
  for (int i = 0; i < kIterations; ++i) {
    std::lock_guard guard(m);
    ++*counter;
  }
  dsm::barrier();
  const long seen = read_under(m, counter);
  DSM_EXPECT_ALL(seen == expected(kIterations))
      << "counter=" << seen << " expected " << expected(kIterations);
  dsm::barrier();
  dsm::free(counter);
}

// Two counters on two different units under two locks, taken together with std::scoped_lock; the
// lock ids are listed in a different order on odd ranks, so a runtime that deadlocks on lock order
// would hang here (std::scoped_lock's deadlock avoidance needs a working try_lock).
TEST_F(collective, scoped_lock_over_two_locks_is_exact) {
  const std::size_t stride = dsm::unit_size() / sizeof(long);
  long* counters = dsm::alloc<long>(2 * stride);
  long* a = counters;
  long* b = counters + stride;
  dsm::mutex ma{2};
  dsm::mutex mb{3};
  ma.bind(a, sizeof *a);
  mb.bind(b, sizeof *b);
  for (int i = 0; i < kIterations; ++i) {
    if (dsm::rank() % 2 == 0) {
      std::scoped_lock both(ma, mb);
      ++*a;
      *b += 2;
    } else {
      std::scoped_lock both(mb, ma);
      ++*a;
      *b += 2;
    }
  }
  dsm::barrier();
  const long seen_a = read_under(ma, a);
  const long seen_b = read_under(mb, b);
  DSM_EXPECT_ALL(seen_a == expected(kIterations) && seen_b == 2 * expected(kIterations))
      << "a=" << seen_a << " b=" << seen_b << " expected " << expected(kIterations) << " and "
      << 2 * expected(kIterations);
  dsm::barrier();
  dsm::free(counters);
}

// std::unique_lock with a deferred lock, locked and unlocked by hand twice per iteration: two
// critical sections of one lock back to back, each a read-modify-write that must not be lost.
TEST_F(collective, unique_lock_counter_is_exact) {
  long* counter = dsm::alloc<long>(1);
  dsm::mutex m{4};
  m.bind(counter, sizeof *counter);
  std::unique_lock lock(m, std::defer_lock);
  for (int i = 0; i < kIterations; ++i) {
    lock.lock();
    ++*counter;
    lock.unlock();
    lock.lock();
    *counter += 10;
    lock.unlock();
  }
  EXPECT_FALSE(lock.owns_lock());
  dsm::barrier();
  const long seen = read_under(m, counter);
  DSM_EXPECT_ALL(seen == 11 * expected(kIterations)) << "counter=" << seen;
  dsm::barrier();
  dsm::free(counter);
}

TEST_F(collective, c_api_counter_is_exact) {
  long* counter = static_cast<long*>(dsm_alloc(sizeof(long)));
  dsm_bind(5, counter, sizeof *counter);
  for (int i = 0; i < kIterations; ++i) {
    dsm_lock_acquire(5);
    ++*counter;
    dsm_lock_release(5);
  }
  dsm_barrier();
  dsm_lock_acquire_shared(5);
  const long seen = *counter;
  dsm_lock_release_shared(5);
  DSM_EXPECT_ALL(seen == expected(kIterations)) << "counter=" << seen;
  DSM_EXPECT_ALL(dsm_rank() == dsm::rank() && dsm_ranks() == dsm::ranks());
  dsm_barrier();
  dsm_free(counter);
}

// Many locks whose managers are spread over the ranks (id % ranks()), each guarding its own slot:
// the lock of slot i is not the lock of slot j, and each slot still ends exact.
TEST_F(collective, counters_under_many_locks_are_exact) {
  constexpr int kLocks = 8;
  const std::size_t stride = dsm::unit_size() / sizeof(long);
  long* slots = dsm::alloc<long>(kLocks * stride);
  for (int k = 0; k < kLocks; ++k) {
    dsm::mutex m{static_cast<std::uint64_t>(100 + k)};
    m.bind(slots + static_cast<std::size_t>(k) * stride, sizeof(long));
  }
  for (int i = 0; i < kIterations / 2; ++i) {
    for (int k = 0; k < kLocks; ++k) {
      const int slot = (k + dsm::rank()) % kLocks;  // ranks start on different locks
      dsm::mutex m{static_cast<std::uint64_t>(100 + slot)};
      std::lock_guard guard(m);
      slots[static_cast<std::size_t>(slot) * stride] += slot + 1;
    }
  }
  dsm::barrier();
  bool exact = true;
  for (int k = 0; k < kLocks; ++k) {
    dsm::mutex m{static_cast<std::uint64_t>(100 + k)};
    const long seen = read_under(m, slots + static_cast<std::size_t>(k) * stride);
    const long want = (k + 1) * expected(kIterations / 2);
    EXPECT_EQ(seen, want) << "slot " << k << " on rank " << dsm::rank();
    exact = exact && seen == want;
  }
  DSM_EXPECT_ALL(exact);
  dsm::barrier();
  dsm::free(slots);
}

// try_lock never waits for a holder: while rank 0 holds the lock it fails everywhere else; once the
// lock is free, each rank in turn takes it with try_lock.
TEST_F(collective, try_lock_fails_while_held_and_succeeds_when_free) {
  dsm::mutex m{6};
  if (dsm::rank() == 0) m.lock();
  dsm::barrier();
  bool refused = true;
  if (dsm::rank() != 0) refused = !m.try_lock();
  DSM_EXPECT_ALL(refused) << "try_lock succeeded while rank 0 held the lock";
  dsm::barrier();
  if (dsm::rank() == 0) m.unlock();
  dsm::barrier();
  for (int turn = 0; turn < dsm::ranks(); ++turn) {
    bool taken = true;
    if (dsm::rank() == turn) {
      taken = m.try_lock();
      if (taken) m.unlock();
    }
    DSM_EXPECT_ALL(taken) << "try_lock of a free lock failed on rank " << turn;
    dsm::barrier();
  }
  bool c_taken = true;
  if (dsm::rank() == dsm::ranks() - 1) {
    c_taken = dsm_lock_try_acquire(6) == 1;
    if (c_taken) dsm_lock_release(6);
  }
  DSM_EXPECT_ALL(c_taken) << "dsm_lock_try_acquire of a free lock did not return 1";
}

// Reads under std::shared_lock (acquire_shared) see the value written under the exclusive lock.
TEST_F(collective, shared_lock_reads_the_exclusive_writers_value) {
  long* value = dsm::alloc<long>(1);
  dsm::mutex m{7};
  m.bind(value, sizeof *value);
  if (dsm::rank() == 0) {
    std::lock_guard guard(m);
    *value = 4242;
  }
  dsm::barrier();
  long seen = 0;
  {
    std::shared_lock reader(m);
    seen = *value;
  }
  DSM_EXPECT_ALL(seen == 4242) << "read " << seen;
  dsm::barrier();
  dsm::free(value);
}

// Misuse that one rank can detect on its own throws dsm::error naming the lock and the rank, and
// leaves the lock usable: releasing a lock nobody holds, releasing a lock another rank holds,
// acquiring a lock this rank already holds.
TEST_F(collective, a_rank_taking_a_lock_over_and_over_does_not_starve_the_others) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a waiter";
  constexpr long kEach = 20;  // acquisitions each other rank makes
  const auto limit = std::chrono::seconds(20);
  long* taken = dsm::alloc<long>(1);
  dsm::mutex m{50};
  m.bind(taken, sizeof *taken);
  const long target = kEach * (dsm::ranks() - 1);
  bool starved = false;
  long rounds = 0;
  if (dsm::rank() == 0) {
    // Take and release the lock as fast as possible until the others are done, or the limit.
    const auto start = std::chrono::steady_clock::now();
    for (long seen = 0; seen < target; ++rounds) {
      std::lock_guard g(m);
      seen = *taken;
      if (std::chrono::steady_clock::now() - start > limit) {
        starved = true;
        break;
      }
    }
  } else {
    for (long i = 0; i < kEach; ++i) {
      std::lock_guard g(m);
      ++*taken;
    }
  }
  DSM_EXPECT_ALL(!starved) << "the other ranks got the lock " << read_under(m, taken) << " times of " << target
                           << " in 20 s while rank 0 took it " << rounds << " times";
  dsm::barrier();
  DSM_EXPECT_ALL(read_under(m, taken) == target);
  dsm::barrier();
  dsm::free(taken);
}

TEST_F(collective, releasing_a_lock_not_held_or_acquiring_it_twice_throws) {
  auto message_of = [](auto&& call) -> std::string {
    try {
      call();
    } catch (const dsm::error& e) {
      return e.what();
    }
    return "(no dsm::error)";
  };
  const std::string me = std::to_string(dsm::rank());
  dsm::mutex free_lock{21};
  const std::string not_held = message_of([&] { free_lock.release(); });
  DSM_EXPECT_ALL(not_held == "dsm::mutex 21: released by rank " + me + ", which does not hold it") << not_held;

  dsm::mutex other{22};
  if (dsm::rank() == 0) other.acquire();
  dsm::barrier();
  const std::string others = dsm::rank() == 0 ? std::string("skipped") : message_of([&] { other.release(); });
  DSM_EXPECT_ALL(dsm::rank() == 0 || others == "dsm::mutex 22: released by rank " + me + ", which does not hold it")
      << others;
  dsm::barrier();
  if (dsm::rank() == 0) other.release();

  dsm::mutex twice{23};
  twice.acquire();
  const std::string again = message_of([&] { twice.acquire(); });
  twice.release();
  DSM_EXPECT_ALL(again == "dsm::mutex 23: acquired twice by rank " + me + " (locks are not recursive)") << again;
  // Still a working lock afterwards.
  { std::lock_guard g(twice); }
  { std::lock_guard g(other); }
}

}  // namespace
