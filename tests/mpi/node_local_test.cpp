// node_local_test.cpp: the node-local fast paths, which every test job takes (all its ranks share
// one node) unless DSM_NODE_SHM=queues or off, or DSM_TRANSPORT=mpi:
// - unit data (coherence/node_homes): under eager release and home-based lazy release (lazy release
//   and entry consistency's unbound data with DSM_LAZY=home), a rank whose unit is homed at a
//   node-mate copies the home copy itself, once the unit is shared (a private unit is written by its
//   home without faults, so the first copy is asked for by message, and the home starts announcing
//   its writes): a miss with no message anywhere in the job, counted as node_copies. Under the other
//   models no miss is a node copy. Under every model the values read are the values written, and a
//   copy taken this way is kept up to date like any other. The races between a node copy and a home
//   that writes the unit or applies a diff to it are exercised by mpi.false_sharing, which fetches
//   units while their homes write them.
// - collective calls (sync/node_barrier): a barrier sends no message.
// - locks (sync/node_locks): a remote acquire goes to the rank that asked last, not through the
//   lock's manager: two messages (request and token) where the manager's hop makes three. Entry
//   consistency serves its own locks and is left out of that count.
// The lock and barrier semantics themselves are the lock, barrier and litmus suites, which run
// both ways (node_shm_off.*, node_shm_queues.*, mpi_transport.*).
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <cstdlib>
#include <string>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;
using dsm_test::sum_over_ranks;

// True if this job takes the node-local fast paths: DSM_NODE_SHM on (its default) and not
// DSM_TRANSPORT=mpi (every rank of a test job shares one node). The unit one is eager release's.
bool node_local() {
  const char* shm = std::getenv("DSM_NODE_SHM");
  const char* transport = std::getenv("DSM_TRANSPORT");
  const bool node_data = shm == nullptr || std::string(shm) == "on" || std::string(shm) == "1";
  const bool via_mpi = transport != nullptr && std::string(transport) == "mpi";
  return node_data && !via_mpi;
}
bool eager() { return dsm::current_model() == dsm::model::eager_release; }
bool home_based_lazy() {
  const dsm::model m = dsm::current_model();
  const char* lazy = std::getenv("DSM_LAZY");
  return (m == dsm::model::lazy_release || m == dsm::model::entry) && (lazy == nullptr || std::string(lazy) != "homeless");
}
bool fast_path_expected() { return node_local() && (eager() || home_based_lazy()); }

// Messages sent by every rank while `body` runs on every rank. MPI barriers (not dsm messages):
// before the first count, so that what came before is over; between it and the body, so that no
// rank starts (and makes another rank's engine send) before every rank has counted; after the
// body, so that each engine has served its part.
template <class Body>
std::uint64_t messages_during(Body&& body) {
  MPI_Barrier(MPI_COMM_WORLD);
  const std::uint64_t before = dsm::stats().messages_sent;
  MPI_Barrier(MPI_COMM_WORLD);
  body();
  MPI_Barrier(MPI_COMM_WORLD);
  return sum_over_ranks(dsm::stats().messages_sent - before);
}

// `units` whole units inside a fresh allocation (a unit-aligned view of it).
long* whole_units(std::size_t units, long*& raw) {
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  raw = dsm::alloc<long>((units + 1) * per_unit);
  const std::size_t skew = reinterpret_cast<std::uintptr_t>(raw) % dsm::unit_size();
  return skew == 0 ? raw : raw + (dsm::unit_size() - skew) / sizeof(long);
}

TEST_F(collective, a_node_mates_miss_on_a_shared_unit_is_a_copy_without_messages) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a node-mate";
  // Eager release keeps copies up to date, so a rank misses a unit once: another rank (2) shares
  // the units first. A rank that has missed a unit is a copy holder the home tells of its writes.
  if (eager() && dsm::ranks() < 3) GTEST_SKIP() << "needs a third rank to share the units first";
  constexpr std::size_t kUnits = 32;
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  long* raw = nullptr;
  long* data = whole_units(kUnits, raw);
  auto write_all = [&](long base) {
    if (dsm::rank() == 0)
      for (std::size_t u = 0; u < kUnits; ++u) data[u * per_unit + 1] = static_cast<long>(u) + base;
    dsm::barrier();
  };
  write_all(0);  // rank 0 touches them first: their home
  long warm = 0;
  const int sharer = eager() ? 2 : 1;
  if (dsm::rank() == sharer)
    for (std::size_t u = 0; u < kUnits; ++u) warm += data[u * per_unit + 1] != static_cast<long>(u);  // asked by message: now shared
  dsm::barrier();
  DSM_EXPECT_ALL(warm == 0) << warm << " wrong values read by rank " << sharer << " first";
  // Under home-based lazy release the new values reach rank 1 at the barrier that announces them (a
  // copy it has read is refreshed from the home's memory there) or at its next miss: both counted.
  // Eager release pushes them to rank 2 by message: only rank 1's misses are counted.
  auto count_from = [](dsm::statistics& s) {
    MPI_Barrier(MPI_COMM_WORLD);  // every engine has served what came before the counters are read
    s = dsm::stats();
    MPI_Barrier(MPI_COMM_WORLD);  // and every rank has counted before the next step starts
  };
  dsm::statistics before;
  if (!eager()) count_from(before);
  if (home_based_lazy() && dsm::rank() == 1)
    for (std::size_t u = 0; u < kUnits; u += 2) warm += data[u * per_unit + 1] != static_cast<long>(u);  // half read again
  // Before rank 0 writes again: read concurrently with its writes, rank 1 could take the new values
  // from its memory, as lazy release allows a racing read to.
  MPI_Barrier(MPI_COMM_WORLD);
  write_all(100);
  if (eager()) count_from(before);
  long wrong = 0;
  if (dsm::rank() == 1)
    for (std::size_t u = 0; u < kUnits; ++u) wrong += data[u * per_unit + 1] != static_cast<long>(u) + 100;
  MPI_Barrier(MPI_COMM_WORLD);
  const dsm::statistics after = dsm::stats();
  const std::uint64_t messages = sum_over_ranks(after.messages_sent - before.messages_sent);
  const std::uint64_t copies = after.node_copies - before.node_copies;
  const std::uint64_t misses = after.read_misses - before.read_misses;
  const std::uint64_t all_copies = sum_over_ranks(copies);

  DSM_EXPECT_ALL(wrong == 0) << wrong << " wrong values read";
  DSM_EXPECT_ALL(warm == 0) << warm << " wrong values read by rank 1 before the second write";
  if (fast_path_expected()) {
    // Rank 1 copies every unit. Under eager release at a miss each. Under home-based lazy release
    // at the barrier that announces the second write, as it holds copies since a miss (on each, or
    // on the one that brought it), or at a miss; the units it first copied while their home kept
    // them private were announced at the barrier after, so the half it read again was copied once
    // more.
    DSM_EXPECT_ALL(dsm::rank() != 1 || (eager() ? copies == kUnits && misses == kUnits : copies >= kUnits))
        << "rank 1: " << misses << " read misses, " << copies << " node copies";
    DSM_EXPECT_ALL(messages == 0) << messages << " messages sent while rank 1 read units homed at its node-mates";
  } else {
    DSM_EXPECT_ALL(all_copies == 0) << all_copies << " node copies where the fast path is not in use";
  }
  dsm::barrier();
  dsm::free(raw);
}

TEST_F(collective, a_copy_taken_from_a_node_mate_follows_later_writes) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a node-mate";
  constexpr std::size_t kUnits = 16;
  constexpr int kRounds = 5;
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  long* raw = nullptr;
  long* data = whole_units(kUnits, raw);
  const int reader = 1;
  long wrong = 0;
  for (int round = 1; round <= kRounds; ++round) {
    // A different writer each round (never the reader): its writes reach the reader's copy through
    // the home, whether the reader took that copy by message or straight from the home's memory.
    const int writer = dsm::ranks() > 2 ? (round % 2 == 0 ? 0 : 2) : 0;
    if (dsm::rank() == writer)
      for (std::size_t u = 0; u < kUnits; ++u) data[u * per_unit + static_cast<std::size_t>(round)] = round * 1000 + static_cast<long>(u);
    dsm::barrier();
    if (dsm::rank() == reader)
      for (std::size_t u = 0; u < kUnits; ++u)
        for (int r = 1; r <= round; ++r)
          wrong += data[u * per_unit + static_cast<std::size_t>(r)] != r * 1000 + static_cast<long>(u);
    dsm::barrier();
  }
  DSM_EXPECT_ALL(wrong == 0) << wrong << " stale values on the reader";
  dsm::barrier();
  dsm::free(raw);
}

TEST_F(collective, a_barrier_sends_no_message_when_every_rank_shares_the_node) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a node-mate";
  dsm::barrier();
  const std::uint64_t messages = messages_during([] { dsm::barrier(); });
  if (node_local()) {
    DSM_EXPECT_ALL(messages == 0) << messages << " messages for a barrier through shared memory";
  } else {
    DSM_EXPECT_ALL(messages >= 2 * static_cast<std::uint64_t>(dsm::ranks() - 1))
        << messages << " messages for a barrier through rank 0 (an arrival from each other rank, a release to each)";
  }
}

TEST_F(collective, a_remote_acquire_goes_to_the_last_requester_not_through_the_manager) {
  if (dsm::ranks() < 3) GTEST_SKIP() << "needs a manager, a holder and an acquirer";
  const std::uint64_t id = 1000 * static_cast<std::uint64_t>(dsm::ranks());  // managed by rank 0
  dsm::mutex m{id};
  long* count = dsm::alloc<long>(1);
  m.bind(count, sizeof(long));
  if (dsm::rank() == 2) {  // the token goes to rank 2 and stays there
    std::lock_guard<dsm::mutex> g(m);
    *count += 1;
  }
  dsm::barrier();
  // The acquire and release alone (reading the data would add the model's own messages).
  const std::uint64_t messages = messages_during([&] {
    if (dsm::rank() != 1) return;
    m.lock();
    m.unlock();
  });
  long seen = 1;
  if (dsm::rank() == 1) {
    std::lock_guard<dsm::mutex> g(m);
    seen = *count;
  }
  DSM_EXPECT_ALL(seen == 1) << "rank 1 read " << seen << " under the lock";
  if (dsm::current_model() != dsm::model::entry) {
    const std::uint64_t want = node_local() ? 2 : 3;
    DSM_EXPECT_ALL(messages == want) << messages << " messages for rank 1's acquire (want " << want
                                     << (node_local() ? ": its request to rank 2, the token back)"
                                                      : ": to the manager, forwarded to rank 2, the token back)");
  }
  dsm::barrier();
  dsm::free(count);
}

}  // namespace
