// limits_test.cpp: going past a limit is a clear error, and what has no limit really has none.
// Registered with DSM_SIZE=1M (256 units of 4 KiB) at 2 and 4 ranks, under every model.
// - The global space: an allocation larger than DSM_SIZE, or one that no longer fits, throws
//   dsm::error on every rank, naming DSM_SIZE; the space stays usable (free, allocate again).
// - Lock ids: any id below 2^62 names a lock (0, 2^32 + 3, 2^62 - 1), ids from 2^62 up (the locks
//   of objects) are refused with dsm::error, and thousands of distinct ids work, each counter guarded
//   by (and bound to) its own lock exact.
// - Full rings: registered once more as mpi.limits.small_rings with DSM_QUEUE_SLOTS=2, where the
//   shared-memory rings are full again and again; every test above passes all the same (a sender
//   never waits on a full ring), and the last test checks that rings were in fact found full.
// The limits of DSM_SIZE at init (over 64T, no address range, ulimit -v) are config_errors.sh cases.
#include <gtest/gtest.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <string>
#include <vector>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

constexpr std::size_t kSpace = std::size_t{1} << 20;  // DSM_SIZE for this test

std::string alloc_error(std::size_t bytes) {
  try {
    char* p = dsm::alloc<char>(bytes);
    dsm::free(p);
  } catch (const dsm::error& e) {
    return e.what();
  }
  return "(no dsm::error)";
}

TEST_F(collective, allocating_past_the_global_space_throws_on_every_rank) {
  const std::string too_big = alloc_error(2 * kSpace);
  DSM_EXPECT_ALL(too_big.find("the global space is full (DSM_SIZE=1048576") != std::string::npos) << too_big;

  // Fill the space with 64 KiB blocks: exactly 16 fit, the 17th throws on every rank.
  const std::size_t block = 64 * 1024;
  std::vector<char*> blocks;
  std::string full;
  for (int i = 0; i < 32 && full.empty(); ++i) {
    try {
      blocks.push_back(dsm::alloc<char>(block));
    } catch (const dsm::error& e) {
      full = e.what();
    }
  }
  DSM_EXPECT_ALL(blocks.size() == kSpace / block) << blocks.size() << " blocks of 64 KiB fitted in 1 MiB";
  DSM_EXPECT_ALL(full.find("DSM_SIZE") != std::string::npos && full.find("valid: a larger DSM_SIZE") != std::string::npos)
      << full;
  // Still usable: the blocks hold what was written; one freed block can be allocated again, zeroed.
  if (!blocks.empty()) {
    if (dsm::rank() == 0) std::memset(blocks.back(), 7, block);
    dsm::barrier();
    DSM_EXPECT_ALL(blocks.back()[block - 1] == 7);
    dsm::barrier();
    dsm::free(blocks.back());
    blocks.pop_back();
    char* again = dsm::alloc<char>(block);
    DSM_EXPECT_ALL(again[0] == 0 && again[block - 1] == 0) << "a reallocated block is not zero";
    blocks.push_back(again);
  }
  dsm::barrier();
  for (auto it = blocks.rbegin(); it != blocks.rend(); ++it) dsm::free(*it);
}

TEST_F(collective, an_allocation_size_that_overflows_throws) {
  std::string what = "(no dsm::error)";
  try {
    (void)dsm::alloc<std::uint64_t>(SIZE_MAX / 4);
  } catch (const dsm::error& e) {
    what = e.what();
  }
  DSM_EXPECT_ALL(what.find("overflows") != std::string::npos) << what;
}

TEST_F(collective, any_lock_id_below_2_62_is_a_lock_and_the_rest_are_refused) {
  const std::uint64_t ids[] = {0, 1, (std::uint64_t{1} << 32) + 3, (std::uint64_t{1} << 62) - 1};
  constexpr int kRounds = 20;
  long* counts = dsm::alloc<long>(std::size(ids));
  for (std::size_t i = 0; i < std::size(ids); ++i) dsm::mutex{ids[i]}.bind(&counts[i], sizeof(long));
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t i = 0; i < std::size(ids); ++i) {
      dsm::mutex m{ids[i]};
      std::lock_guard g(m);
      counts[i] += 1;
    }
  }
  dsm::barrier();
  for (std::size_t i = 0; i < std::size(ids); ++i) {
    dsm::mutex m{ids[i]};
    long seen = 0;
    {
      std::lock_guard g(m);  // bound data is read under its lock (entry consistency)
      seen = counts[i];
    }
    DSM_EXPECT_ALL(seen == static_cast<long>(dsm::ranks()) * kRounds) << "lock " << ids[i] << ": " << seen;
  }
  // Ids from 2^62 up name the locks objects carry: a dsm::mutex refuses them on every rank.
  for (std::uint64_t id : {std::uint64_t{1} << 62, (std::uint64_t{1} << 63) + 5, UINT64_MAX}) {
    bool refused = false;
    try {
      dsm::mutex m{id};
      m.lock();
    } catch (const dsm::error& e) {
      refused = std::string(e.what()).find("reserved") != std::string::npos;
    }
    DSM_EXPECT_ALL(refused) << "lock id " << id << " was not refused";
  }
  dsm::barrier();
  dsm::free(counts);
}

// Counters, one per lock (ids base, base + 1, ...), each bound to its lock. Every rank adds one to
// every counter `rounds` times, under the counter's lock, starting `stride` x rank counters apart
// so that the ranks contend; a barrier ends each round. Returns how many counters are not
// rounds x ranks, read under their locks.
std::size_t count_under_locks(std::size_t locks, std::uint64_t base, std::size_t rounds, std::size_t step,
                              std::size_t stride) {
  long* counts = dsm::alloc<long>(locks);
  for (std::size_t k = 0; k < locks; ++k) dsm::mutex{base + k}.bind(&counts[k], sizeof(long));
  for (std::size_t round = 0; round < rounds; ++round) {
    for (std::size_t i = 0; i < locks; ++i) {
      const std::size_t k = (i * step + static_cast<std::size_t>(dsm::rank()) * stride) % locks;
      dsm::mutex m{base + k};
      std::lock_guard g(m);
      counts[k] += 1;
    }
    dsm::barrier();
  }
  std::size_t wrong = 0;
  for (std::size_t k = 0; k < locks; ++k) {
    dsm::mutex m{base + k};
    std::lock_guard g(m);
    wrong += counts[k] != static_cast<long>(rounds) * dsm::ranks();
  }
  dsm::barrier();
  dsm::free(counts);
  return wrong;
}

TEST_F(collective, thousands_of_distinct_locks) {
  constexpr std::size_t kLocks = 2000;
  const std::size_t wrong = count_under_locks(kLocks, 1000003, 1, 7, 1013);
  DSM_EXPECT_ALL(wrong == 0) << wrong << " of " << kLocks << " counters are not " << dsm::ranks();
}

// Each rank writes one word of every unit homed at another rank (word `rank`, value `tag` + rank),
// then a barrier: under the release models each writer sends its diffs to the homes one after
// another, without waiting for each answer (eager release keeps up to 8 x ranks in flight), a burst
// towards each home's engine. Returns how many words do not read back as written.
std::size_t burst_to_homes(std::size_t units_per_rank, long tag) {
  const std::size_t words = dsm::unit_size() / sizeof(long);
  const std::size_t ranks = static_cast<std::size_t>(dsm::ranks()), me = static_cast<std::size_t>(dsm::rank());
  long* a = dsm::alloc<long>(units_per_rank * ranks * words, dsm::placement::block);
  for (std::size_t u = 0; u < units_per_rank * ranks; ++u)
    if (u / units_per_rank != me) a[u * words + me] = tag + static_cast<long>(me);
  dsm::barrier();
  std::size_t wrong = 0;
  for (std::size_t u = 0; u < units_per_rank * ranks; ++u)
    for (std::size_t r = 0; r < ranks; ++r)
      wrong += a[u * words + r] != (u / units_per_rank == r ? 0 : tag + static_cast<long>(r));
  dsm::barrier();
  dsm::free(a);
  return wrong;
}

TEST_F(collective, small_rings_are_full_and_nothing_is_lost) {
  const char* slots = std::getenv("DSM_QUEUE_SLOTS");
  if (slots == nullptr || std::string(slots) != "2") GTEST_SKIP() << "runs as mpi.limits.small_rings (DSM_QUEUE_SLOTS=2)";
  // Every rank takes locks managed by every rank, and barriers, as fast as it can: many messages
  // in flight towards each engine, rings of two slots. Each of these asks and waits for its answer,
  // so at two ranks a ring fills only when an engine falls behind: a fresh-clone run of the suite
  // once went 40 passes under eager release without one. So each pass also sends diffs to homes
  // in a burst (burst_to_homes: alone, at two ranks, it filled a ring in its first pass in 5 of 5
  // runs under each model), and the passes go on, with fresh locks, until a message has found a
  // ring full (at most 40).
  constexpr std::size_t kLocks = 64, kRounds = 20, kMaxPasses = 40, kBurstUnits = 24;
  std::uint64_t waited = 0;
  for (std::size_t pass = 0; pass < kMaxPasses && waited == 0; ++pass) {
    const std::size_t wrong = count_under_locks(kLocks, 77 + pass * kLocks, kRounds, 1, 17);
    DSM_EXPECT_ALL(wrong == 0) << wrong << " of " << kLocks << " counters are not " << kRounds * dsm::ranks()
                               << " (pass " << pass << ")";
    const std::size_t lost = burst_to_homes(kBurstUnits, 1000 * static_cast<long>(pass + 1));
    DSM_EXPECT_ALL(lost == 0) << lost << " words written before a barrier read otherwise after it (pass " << pass
                              << ")";
    waited = dsm_test::sum_over_ranks(dsm::stats().ring_full_waits);
  }
  if (dsm::rank() == 0) std::printf("messages that found a ring full: %llu\n", static_cast<unsigned long long>(waited));
  DSM_EXPECT_ALL(waited > 0) << "no message found a two-slot ring full in " << kMaxPasses
                             << " passes: this test exercised nothing";
}

}  // namespace
