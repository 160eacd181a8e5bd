// bind_test.cpp: data bound to locks (dsm::mutex::bind), under every model. What must hold
// everywhere: bound data read under its lock is the last exclusive holder's; re-acquiring the lock
// one released last sends no message; bad bindings throw dsm::error on every rank. What entry
// consistency adds: only the bound bytes move with the lock, and shared holders read together.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <mutex>
#include <shared_mutex>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

bool entry() { return dsm::current_model() == dsm::model::entry; }

// 64 bytes in the middle of a unit, bound to a lock: the acquirer reads what the last writer wrote.
// Under entry consistency the acquire moves those 64 bytes and headers, never the unit around them.
TEST_F(collective, acquiring_a_lock_bound_to_64_bytes_moves_about_64_bytes) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a second rank";
  const std::size_t unit = dsm::unit_size();
  auto* block = dsm::alloc<unsigned char>(unit);
  unsigned char* data = block + 1000;
  dsm::mutex m{21};
  m.bind(data, 64);
  if (dsm::rank() == 0) {
    std::lock_guard g(m);
    for (int i = 0; i < 64; ++i) data[i] = static_cast<unsigned char>(i + 7);
  }
  dsm::barrier();
  const dsm_test::traffic before = dsm_test::traffic_now();
  bool right = true;
  if (dsm::rank() == 1) {
    std::lock_guard g(m);
    for (int i = 0; i < 64; ++i) right = right && data[i] == static_cast<unsigned char>(i + 7);
  }
  const dsm_test::traffic after = dsm_test::traffic_now();
  DSM_EXPECT_ALL(right) << "rank 1 did not read rank 0's 64 bytes under the lock";
  const std::uint64_t moved = after.bytes - before.bytes;
  if (dsm::rank() == 0) {
    std::printf("[bind] %s: one remote acquire of a lock bound to 64 bytes sent %llu bytes in %llu messages\n",
                dsm::model_name(dsm::current_model()), static_cast<unsigned long long>(moved),
                static_cast<unsigned long long>(after.messages - before.messages));
  }
  if (entry()) {
    // 64 bytes of data and at most 8 headers of 48 bytes: request, forward, grant, answer, and the
    // empty diff exchange of a unit the barrier invalidated.
    EXPECT_LE(moved, 64u + 8u * 48u) << "an entry-consistency acquire moved more than the bound bytes";
    EXPECT_LT(moved, unit) << "an entry-consistency acquire moved a unit's worth";
  }
  dsm::barrier();
  dsm::free(block);
}

// The last releaser re-acquires without a message, under every model.
TEST_F(collective, the_last_owner_reacquires_without_a_message) {
  long* value = dsm::alloc<long>(1);
  dsm::mutex m{22};
  m.bind(value, sizeof *value);
  const int last = dsm::ranks() - 1;
  if (dsm::rank() == last) {
    std::lock_guard g(m);
    *value = 5;
  }
  dsm::barrier();
  std::uint64_t sent = 0;
  bool right = true;
  if (dsm::rank() == last) {
    for (int i = 0; i < 10; ++i) {
      // The acquire alone: a release may send what the model pushes (eager release's diffs).
      const std::uint64_t before = dsm::stats().messages_sent;
      m.lock();
      sent += dsm::stats().messages_sent - before;
      right = right && *value == 5 + i;
      *value += 1;
      m.unlock();
    }
  }
  DSM_EXPECT_ALL(right) << "the re-acquiring rank lost its own writes";
  DSM_EXPECT_ALL(sent == 0) << "rank " << last << " sent " << sent << " messages to re-acquire its own lock";
  dsm::barrier();
  long seen = 0;
  {
    std::shared_lock g(m);
    seen = *value;
  }
  DSM_EXPECT_ALL(seen == 15) << "read " << seen;
  dsm::barrier();
  dsm::free(value);
}

// Entry consistency's shared mode: every rank holds the lock shared at the same moment (they meet in
// an MPI barrier while holding it, which would never end if shared were exclusive), and each reads
// the value the last exclusive holder wrote. The writer changes every round.
TEST_F(collective, shared_holders_read_the_last_writer_together) {
  if (!entry()) GTEST_SKIP() << "only entry consistency has a shared mode";
  long* value = dsm::alloc<long>(2);
  dsm::mutex m{23};
  m.bind(value, 2 * sizeof(long));
  bool right = true;
  for (int round = 1; round <= 20; ++round) {
    if (dsm::rank() == round % dsm::ranks()) {
      std::lock_guard g(m);
      value[0] = round;
      value[1] = -round;
    }
    dsm::barrier();
    {
      std::shared_lock g(m);
      right = right && value[0] == round && value[1] == -round;
      MPI_Barrier(MPI_COMM_WORLD);  // all ranks hold it shared here
    }
    dsm::barrier();
  }
  DSM_EXPECT_ALL(right) << "a shared holder did not read the last exclusive holder's data";
  dsm::barrier();
  dsm::free(value);
}

// A try acquire never waits for a holder, in either mode (entry), or at all (others).
TEST_F(collective, try_acquire_shared_is_refused_while_held_exclusively) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a second rank";
  long* value = dsm::alloc<long>(1);
  dsm::mutex m{24};
  m.bind(value, sizeof *value);
  if (dsm::rank() == 0) m.lock();
  dsm::barrier();
  bool refused = true;
  if (dsm::rank() != 0) refused = !m.try_lock_shared() && !m.try_lock();
  DSM_EXPECT_ALL(refused) << "a try acquire succeeded while rank 0 held the lock exclusively";
  dsm::barrier();
  if (dsm::rank() == 0) {
    *value = 77;
    m.unlock();
  }
  dsm::barrier();
  bool taken = true;
  if (dsm::rank() == 1) {
    taken = m.try_lock_shared();
    if (taken) {
      taken = *value == 77;
      m.unlock_shared();
    }
  }
  DSM_EXPECT_ALL(taken) << "try_lock_shared of a free lock failed or read a stale value";
  dsm::barrier();
  dsm::free(value);
}

// Bad bindings are errors on every rank, never corruption.
TEST_F(collective, overlapping_and_foreign_bindings_throw_on_every_rank) {
  long* data = dsm::alloc<long>(16);
  dsm::mutex a{25};
  dsm::mutex b{26};
  a.bind(data, 8 * sizeof(long));
  bool overlap_threw = false;
  try {
    b.bind(data + 4, 8 * sizeof(long));
  } catch (const dsm::error& e) {
    overlap_threw = std::strstr(e.what(), "overlaps") != nullptr && std::strstr(e.what(), "25") != nullptr;
  }
  DSM_EXPECT_ALL(overlap_threw) << "binding a range that overlaps lock 25's did not throw naming it";
  long local = 0;
  bool foreign_threw = false;
  try {
    b.bind(&local, sizeof local);
  } catch (const dsm::error& e) {
    foreign_threw = std::strstr(e.what(), "not inside the global space") != nullptr;
  }
  DSM_EXPECT_ALL(foreign_threw) << "binding memory outside the global space did not throw";
  bool reserved_threw = false;
  try {
    dsm::mutex big{std::uint64_t{1} << 62};
    big.lock();
  } catch (const dsm::error&) {
    reserved_threw = true;
  }
  DSM_EXPECT_ALL(reserved_threw) << "a lock id reserved for objects was accepted";
  // The failed binds changed nothing: the rest of the array can still be bound, and is used.
  b.bind(data + 8, 8 * sizeof(long));
  if (dsm::rank() == 0) {
    std::lock_guard g(b);
    data[8] = 99;
  }
  dsm::barrier();
  long seen = 0;
  {
    std::shared_lock g(b);
    seen = data[8];
  }
  DSM_EXPECT_ALL(seen == 99) << "read " << seen;
  dsm::barrier();
  dsm::free(data);
}

// Freeing memory unbinds its ranges: the same lock can guard the memory allocated next.
TEST_F(collective, free_unbinds) {
  long* first = dsm::alloc<long>(4);
  dsm::mutex m{27};
  m.bind(first, 4 * sizeof(long));
  dsm::barrier();
  dsm::free(first);
  long* second = dsm::alloc<long>(4);
  m.bind(second, 4 * sizeof(long));  // overlaps the freed range's addresses: must not throw
  if (dsm::rank() == 0) {
    std::lock_guard g(m);
    second[3] = 3;
  }
  dsm::barrier();
  long seen = 0;
  {
    std::shared_lock g(m);
    seen = second[3] + second[0];
  }
  DSM_EXPECT_ALL(seen == 3) << "read " << seen;
  dsm::barrier();
  dsm::free(second);
}

}  // namespace
