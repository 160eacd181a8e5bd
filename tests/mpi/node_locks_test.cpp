// node_locks_test.cpp: node-mates queue for a lock in shared memory whatever node its manager is
// on (runtime/sync/node_locks.hpp). Registered at 4 ranks as one node, and as two nodes of two
// (DSM_NODE_RANKS=2, a cluster emulated on one host); with DSM_NODE_SHM=queues the locks go by
// message, which the message counts tell apart.
//
// The lock's manager is rank 2. Rank 0 holds the lock; its node-mate rank 1 then asks for it. By
// message (DSM_NODE_SHM=queues) that costs three messages: rank 1's request to the manager, the
// manager's forward to rank 0, rank 0's token. With the node's queue it costs two, neither from or
// to the manager: rank 1 forwards its request straight to rank 0, which passes the token. Counted
// exactly per rank (messages_sent) between two MPI_Barrier calls of the program's own, which dsm
// does not count, so that no dsm barrier's messages are in the interval.
#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <mutex>
#include <string>
#include <thread>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

std::string env(const char* name) {
  const char* v = std::getenv(name);
  return v == nullptr ? "" : v;
}

// Under entry consistency a lock is served by entry's own protocol (docs/protocols.md), which
// this test does not describe.
bool lock_service_locks() { return dsm::current_model() != dsm::model::entry; }

TEST_F(collective, a_node_mate_takes_the_lock_from_its_holder_without_the_manager) {
  if (dsm::ranks() != 4 || !lock_service_locks()) GTEST_SKIP() << "4 ranks, a model whose locks are lock_service's";
  const bool by_message = env("DSM_NODE_SHM") == "queues" || env("DSM_NODE_SHM") == "off";
  const std::uint64_t id = 4 * 1000 + 2;  // managed by rank 2: on the other node with DSM_NODE_RANKS=2
  const int me = dsm::rank();

  dsm::mutex m{id};
  if (me == 0) m.lock();
  dsm::barrier();
  MPI_Barrier(MPI_COMM_WORLD);  // every rank out of dsm::barrier, its messages sent
  const std::uint64_t before = dsm::stats().messages_sent;
  MPI_Barrier(MPI_COMM_WORLD);  // every rank counted before rank 1 asks
  if (me == 1) {
    m.lock();
    m.unlock();
  }
  if (me == 0) {
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // rank 1 most likely waits now
    m.unlock();
  }
  MPI_Barrier(MPI_COMM_WORLD);  // rank 1 has had the token: every message of the hand-off is sent
  const std::uint64_t sent = dsm::stats().messages_sent - before;

  const std::uint64_t want = me == 0 || me == 1 ? 1 : me == 2 && by_message ? 1 : 0;
  DSM_EXPECT_ALL(sent == want) << "rank " << me << " sent " << sent << " lock messages, want " << want
                               << (by_message ? " (by message)" : " (node-mates queue in shared memory)");
  dsm::barrier();
}

// Every rank takes each of a few locks many times, in turn with the others, over nodes: the counts
// come out exact and nobody waits forever (each lock's queue passes through every node).
TEST_F(collective, locks_pass_between_nodes_and_no_increment_is_lost) {
  constexpr int kLocks = 5, kRounds = 200;
  constexpr std::size_t kApart = 512;  // longs: a unit (4 KiB) each
  long* counters = dsm::alloc<long>(kLocks * kApart);
  for (int l = 0; l < kLocks; ++l) {  // under entry consistency, what a lock protects is what it is bound to
    dsm::mutex(static_cast<std::uint64_t>(100 + l)).bind(counters + static_cast<std::size_t>(l) * kApart, sizeof(long));
  }
  for (int round = 0; round < kRounds; ++round) {
    for (int l = 0; l < kLocks; ++l) {
      const int lock = (l + dsm::rank()) % kLocks;
      dsm::mutex m{static_cast<std::uint64_t>(100 + lock)};
      std::lock_guard g(m);
      counters[static_cast<std::size_t>(lock) * kApart] += 1;
    }
  }
  dsm::barrier();
  for (int l = 0; l < kLocks; ++l) {
    dsm::mutex m{static_cast<std::uint64_t>(100 + l)};
    long seen = 0;
    {
      std::lock_guard g(m);
      seen = counters[static_cast<std::size_t>(l) * kApart];
    }
    DSM_EXPECT_ALL(seen == static_cast<long>(kRounds) * dsm::ranks()) << "lock " << l << ": counter " << seen;
  }
  dsm::barrier();
  dsm::free(counters);
}

// try_lock from every rank while others hold and queue: a try takes only a free lock, and what it
// protects is exact (each rank's successful increments add up to the counter). Across nodes, a try
// from a node where nobody queues goes through the manager, whose probe the last node's queue answers.
TEST_F(collective, try_locks_across_nodes_take_only_free_locks) {
  constexpr int kLocks = 3, kRounds = 300;
  constexpr std::size_t kApart = 512;
  long* counters = dsm::alloc<long>(kLocks * kApart);
  long* tallies = dsm::alloc<long>(static_cast<std::size_t>(dsm::ranks()) * kLocks * kApart);
  for (int l = 0; l < kLocks; ++l) {
    dsm::mutex(static_cast<std::uint64_t>(200 + l)).bind(counters + static_cast<std::size_t>(l) * kApart, sizeof(long));
  }
  long* mine = tallies + static_cast<std::size_t>(dsm::rank()) * kLocks * kApart;
  for (int round = 0; round < kRounds; ++round) {
    const int l = round % kLocks;
    dsm::mutex m{static_cast<std::uint64_t>(200 + l)};
    if ((round + dsm::rank()) % 2 == 0) {
      m.lock();
    } else if (!m.try_lock()) {
      continue;
    }
    counters[static_cast<std::size_t>(l) * kApart] += 1;
    m.unlock();
    mine[static_cast<std::size_t>(l) * kApart] += 1;
  }
  dsm::barrier();
  for (int l = 0; l < kLocks; ++l) {
    long sum = 0;
    for (int r = 0; r < dsm::ranks(); ++r) sum += tallies[(static_cast<std::size_t>(r) * kLocks + static_cast<std::size_t>(l)) * kApart];
    dsm::mutex m{static_cast<std::uint64_t>(200 + l)};
    long seen = 0;
    {
      std::lock_guard g(m);
      seen = counters[static_cast<std::size_t>(l) * kApart];
    }
    DSM_EXPECT_ALL(seen == sum && sum >= kRounds / kLocks / 2 * dsm::ranks())
        << "lock " << l << ": counter " << seen << ", increments made " << sum;
  }
  dsm::barrier();
  dsm::free(tallies);
  dsm::free(counters);
}

}  // namespace
