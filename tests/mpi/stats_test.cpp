// stats_test.cpp: dsm::stats() counts what the protocol did on this rank. A rank that reads a unit
// another rank wrote must show a read miss and a fetched unit (and have sent a message to get it,
// unless it copied a node-mate's home copy: node_copies);
// lock acquires and barriers are counted exactly; counters never go down. (Whether writing a fresh
// unit is a write miss depends on where its home is, so that is not asserted.) These hold for any
// model that detects accesses with page faults: a unit this rank never touched cannot be read
// without a miss.
#include <gtest/gtest.h>

#include <cstdint>
#include <mutex>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

TEST_F(collective, reading_a_unit_another_rank_wrote_is_a_miss_and_a_fetch) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a second rank to write the unit";
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  long* data = dsm::alloc<long>(4 * per_unit);
  long* unit = data + 2 * per_unit;  // a whole unit inside the block, whatever its alignment
  unit -= (reinterpret_cast<std::uintptr_t>(unit) % dsm::unit_size()) / sizeof(long);
  const int writer = 0;
  const int reader = 1;

  const dsm::statistics before_write = dsm::stats();
  if (dsm::rank() == writer) unit[0] = 77;
  dsm::barrier();

  const dsm::statistics before_read = dsm::stats();
  long seen = 77;
  if (dsm::rank() == reader) seen = unit[0];
  const dsm::statistics after_read = dsm::stats();

  DSM_EXPECT_ALL(seen == 77) << "read " << seen;
  if (dsm::rank() == reader) {
    EXPECT_GE(after_read.read_misses, before_read.read_misses + 1);
    EXPECT_GE(after_read.units_fetched, before_read.units_fetched + 1);
    // A node-mate's home copy may be copied directly (eager release, DSM_NODE_SHM=on): no message.
    if (after_read.node_copies > before_read.node_copies) {
      EXPECT_EQ(after_read.messages_sent, before_read.messages_sent) << "a node-local copy needs no request";
    } else {
      EXPECT_GT(after_read.messages_sent, before_read.messages_sent) << "a fetch needs a request";
    }
  }
  // Counters are "since init": none goes down.
  const dsm::statistics now = dsm::stats();
  DSM_EXPECT_ALL(
      now.read_misses >= before_write.read_misses && now.write_misses >= before_write.write_misses &&
      now.units_fetched >= before_write.units_fetched && now.messages_sent >= before_write.messages_sent &&
      now.bytes_sent >= before_write.bytes_sent);
  DSM_EXPECT_ALL(!::testing::Test::HasFailure()) << "see the failures of the ranks named";
  dsm::barrier();
  dsm::free(data);
}

TEST_F(collective, lock_acquires_and_barriers_are_counted_exactly) {
  constexpr int kAcquires = 5;
  constexpr int kBarriers = 3;
  dsm::mutex m{9};
  const dsm::statistics before = dsm::stats();
  for (int i = 0; i < kAcquires; ++i) {
    std::lock_guard guard(m);
  }
  const dsm::statistics after_locks = dsm::stats();
  for (int i = 0; i < kBarriers; ++i) dsm::barrier();
  const dsm::statistics after_barriers = dsm::stats();
  const std::uint64_t acquires = after_locks.lock_acquires - before.lock_acquires;
  const std::uint64_t barriers = after_barriers.barriers - after_locks.barriers;
  DSM_EXPECT_ALL(acquires == kAcquires) << "lock_acquires grew by " << acquires << ", want " << kAcquires;
  DSM_EXPECT_ALL(barriers == kBarriers) << "barriers grew by " << barriers << ", want " << kBarriers;
  DSM_EXPECT_ALL(after_locks.remote_lock_acquires - before.remote_lock_acquires <= acquires);
}

}  // namespace
