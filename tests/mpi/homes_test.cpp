// homes_test.cpp: where units live and what sharing costs. Under every model the values read are
// the values written; under the home-based protocols (lazy release and entry consistency's unbound
// data with DSM_LAZY=home, the default) the counters say that a rank pays only for what others hold:
// - a unit only its home writes is never twinned, and after its first write never faults again,
//   across barriers and lock releases;
// - a unit goes private, shared (its home faults on each write, its reader sees every value), then
//   private again once the reader stops (its home stops faulting: "written once" is not sticky);
// - a copy its home pushes with a barrier holds every write made before the barrier (other
//   writers' diffs on their way to the home, and the reader's own);
// - more units than a barrier carries are fetched as before;
// - a home that never writes its units keeps them up to date for the ranks that do (DSM_HOME=cyclic
//   and block make such homes; under first touch the first writer is the home);
// - first touch by a rank other than the unit's manager makes that rank the home;
// - an allocation's own placement (dsm::alloc's `where`) wins over DSM_HOME: cyclic makes twins of
//   units written by a rank after their home, first touch none;
// - a unit freed and allocated again gets a new home, and reads as zero;
// - a lock-protected counter alternating between two ranks costs exactly two messages per acquire,
//   its data included (the node-local lock hand-off: the request to the holder and the token);
// - a Jacobi sweep at 2 ranks sends no message at all through the node-local fast path; without
//   it the home pushes the edge row to its reader with the barrier after the reader's first fetch,
//   and the reader, which faults on the probe among the pushes, renews them with its next barrier
//   arrival: no fetch after the first, and a fault per unit at the 6th, 22nd, 54th... push.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
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
using dsm_test::sum_over_ranks;

std::string env(const char* name, const char* fallback) {
  const char* v = std::getenv(name);
  return v == nullptr ? fallback : v;
}
// Lazy release or entry consistency, with the home-based protocol (DSM_LAZY=home, the default).
bool home_based() {
  const dsm::model m = dsm::current_model();
  return (m == dsm::model::lazy_release || m == dsm::model::entry) && env("DSM_LAZY", "home") != "homeless";
}
bool first_touch() { return env("DSM_HOME", "first-touch") == "first-touch"; }
// Every rank on one node with the node-local fast paths on (DSM_NODE_SHM=on, not DSM_TRANSPORT=mpi).
bool node_local() {
  const std::string shm = env("DSM_NODE_SHM", "on");
  return (shm == "on" || shm == "1") && env("DSM_TRANSPORT", "auto") != "mpi";
}

// This rank's counters now, after every rank's engine has served what came before.
dsm::statistics settled() {
  MPI_Barrier(MPI_COMM_WORLD);
  const dsm::statistics s = dsm::stats();
  MPI_Barrier(MPI_COMM_WORLD);
  return s;
}

// `units` whole units inside a fresh allocation.
long* whole_units(std::size_t units, long*& raw) {
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  raw = dsm::alloc<long>((units + 1) * per_unit);
  const std::size_t skew = reinterpret_cast<std::uintptr_t>(raw) % dsm::unit_size();
  return skew == 0 ? raw : raw + (dsm::unit_size() - skew) / sizeof(long);
}

TEST_F(collective, a_unit_only_its_home_writes_is_never_twinned_nor_faults_again) {
  constexpr std::size_t kUnitsPerRank = 16;
  constexpr int kRounds = 8;
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  const std::size_t mine = static_cast<std::size_t>(dsm::rank()) * kUnitsPerRank;
  long* raw = nullptr;
  long* data = whole_units(kUnitsPerRank * static_cast<std::size_t>(dsm::ranks()), raw);
  dsm::mutex m{41};
  auto write_round = [&](int round) {
    for (std::size_t u = mine; u < mine + kUnitsPerRank; ++u) data[u * per_unit + 3] = round * 100 + static_cast<long>(u);
  };
  write_round(0);  // the first touch: this rank becomes the home of its block
  dsm::barrier();
  const dsm::statistics before = settled();
  long wrong = 0;
  for (int round = 1; round <= kRounds; ++round) {
    write_round(round);
    if (round % 2 == 0) {
      dsm::barrier();
    } else {
      std::lock_guard<dsm::mutex> g(m);  // a release too
    }
    for (std::size_t u = mine; u < mine + kUnitsPerRank; ++u) wrong += data[u * per_unit + 3] != round * 100 + static_cast<long>(u);
  }
  dsm::barrier();
  const dsm::statistics after = settled();
  DSM_EXPECT_ALL(wrong == 0) << wrong << " wrong values in this rank's own block";
  if (home_based() && first_touch()) {
    const std::uint64_t twins = after.twins_created - before.twins_created;
    const std::uint64_t faults = after.write_misses - before.write_misses;
    DSM_EXPECT_ALL(twins == 0) << twins << " twins of units only their home writes";
    DSM_EXPECT_ALL(faults == 0) << faults << " write faults on units only their home writes, after the first";
  }
  dsm::barrier();
  dsm::free(raw);
}

TEST_F(collective, a_unit_goes_private_then_shared_then_private_again) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a reader";
  constexpr int kRounds = 6;
  long* x = dsm::alloc<long>(dsm::unit_size() / sizeof(long));
  const int writer = 0, reader = 1;
  long wrong = 0;
  int round = 0;
  // Each phase: `rounds` times the writer writes x and everybody meets at a barrier; in the shared
  // phase the reader then reads x. Returns the writer's write faults and the copies of x the
  // reader received in the phase (fetched, or copied from a node-mate home's memory).
  struct cost {
    std::uint64_t faults;
    std::uint64_t copies;
  };
  auto phase = [&](bool read) {
    const dsm::statistics before = settled();
    for (int i = 0; i < kRounds; ++i) {
      ++round;
      if (dsm::rank() == writer) *x = round;
      dsm::barrier();
      if (read && dsm::rank() == reader) wrong += *x != round;
      dsm::barrier();
    }
    const dsm::statistics after = settled();
    return cost{after.write_misses - before.write_misses,
                after.units_fetched + after.node_copies - before.units_fetched - before.node_copies};
  };
  if (dsm::rank() == writer) *x = -1;  // the writer's first touch: its home
  dsm::barrier();
  phase(false);                            // the first write after the first barrier may fault once
  const cost alone = phase(false);         // private: never a fault
  const cost shared = phase(true);         // the reader holds a copy: each write reaches it
  // The reader stopped: it refreshes its copy at most 8 more times (once per barrier, or once per
  // two when it is slow to take the copy before the home's next release), then drops it, and the
  // home finds out.
  phase(false);
  phase(false);
  const cost alone_again = phase(false);   // private again
  DSM_EXPECT_ALL(wrong == 0) << wrong << " stale values read by the reader";
  if (home_based() && first_touch()) {
    DSM_EXPECT_ALL(dsm::rank() != writer || alone.faults == 0) << alone.faults << " write faults on a private unit";
    DSM_EXPECT_ALL(dsm::rank() != reader || alone.copies == 0) << alone.copies << " copies of a unit the reader does not read";
    // The home announces every write the reader must see: with a write fault and a notice, or (a
    // node-mate's copy of a unit its home keeps writable) with a notice alone.
    DSM_EXPECT_ALL(dsm::rank() != reader || shared.copies >= kRounds - 1)
        << shared.copies << " copies of a unit the reader re-read after every write (" << kRounds << " rounds)";
    DSM_EXPECT_ALL(dsm::rank() != writer || alone_again.faults == 0) << alone_again.faults << " write faults once the sharing ended";
    DSM_EXPECT_ALL(dsm::rank() != reader || alone_again.copies == 0)
        << alone_again.copies << " copies after the reader stopped reading";
  }
  dsm::barrier();
  dsm::free(x);
}

TEST_F(collective, a_home_that_never_writes_keeps_its_units_up_to_date_for_those_that_do) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a writer other than the home";
  // Under cyclic or block placement the home of every unit is decided before anyone writes; each
  // unit is written only by the rank after its home, and read by everyone.
  constexpr std::size_t kUnits = 8;
  constexpr int kRounds = 4;
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  long* raw = nullptr;
  long* data = whole_units(kUnits, raw);
  const auto n = static_cast<std::size_t>(dsm::ranks());
  long wrong = 0;
  const dsm::statistics before = settled();
  for (int round = 1; round <= kRounds; ++round) {
    for (std::size_t u = 0; u < kUnits; ++u)
      if (static_cast<std::size_t>(dsm::rank()) == (u + 1) % n) data[u * per_unit + 5] = round * 10 + static_cast<long>(u);
    dsm::barrier();
    for (std::size_t u = 0; u < kUnits; ++u) wrong += data[u * per_unit + 5] != round * 10 + static_cast<long>(u);
    dsm::barrier();
  }
  const dsm::statistics after = settled();
  DSM_EXPECT_ALL(wrong == 0) << wrong << " wrong values";
  if (home_based() && env("DSM_HOME", "first-touch") == "cyclic") {
    // Every write went to a home that did not write: diffs, applied at the homes.
    const std::uint64_t applied = sum_over_ranks(after.diffs_applied - before.diffs_applied);
    DSM_EXPECT_ALL(applied >= kUnits) << applied << " diffs applied at homes for " << kUnits << " units written elsewhere";
  }
  dsm::barrier();
  dsm::free(raw);
}

TEST_F(collective, a_copy_pushed_with_a_barrier_holds_every_write_made_before_it) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a reader";
  // The home writes one word of a unit in every round, and every other rank writes a word of its
  // own in the same unit (its diff goes to the home as it arrives at the barrier, perhaps after
  // the home pushed the unit to it); then every rank reads every word. Under the home-based
  // protocols a reader installs a pushed copy only if it holds every diff the reader must see,
  // its own included; else it fetches the unit. Values are checked under every model.
  // DSM_TRANSPORT=mpi runs it with pushes (tests/mpi/CMakeLists.txt, mpi_transport.homes).
  constexpr int kRounds = 24;
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  long* raw = nullptr;
  long* x = whole_units(1, raw);
  const int home = 0, me = dsm::rank();
  const std::size_t half = per_unit / 2;
  if (me == home) x[0] = -1;  // the home's first touch
  dsm::barrier();
  long wrong = 0;
  for (int round = 1; round <= kRounds; ++round) {
    if (me == home) {
      x[0] = round;
      // The others' diffs reach the home after its write, before its release: a unit the home
      // writes without faults (pushed at every barrier) must still be announced.
      std::this_thread::sleep_for(std::chrono::milliseconds(10));
    } else {
      x[half + static_cast<std::size_t>(me)] = round * 100 + me;
    }
    dsm::barrier();
    wrong += x[0] != round;
    for (int r = 0; r < dsm::ranks(); ++r)
      if (r != home) wrong += x[half + static_cast<std::size_t>(r)] != round * 100 + r;
    dsm::barrier();
  }
  DSM_EXPECT_ALL(wrong == 0) << wrong << " stale values in " << kRounds << " rounds";
  dsm::barrier();
  dsm::free(raw);
}

TEST_F(collective, more_units_than_a_barrier_carries_are_fetched_as_before) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a reader";
  // The home writes 100 units in every round and every other rank reads them all: more than a home
  // pushes with one barrier (256 KiB, 64 units of 4 KiB), and more rounds than pushes per fetch, so
  // that pushed, fetched and refetched copies mix. Values are checked under every model.
  constexpr std::size_t kUnits = 100;
  constexpr int kRounds = 12;
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  long* raw = nullptr;
  long* data = whole_units(kUnits, raw);
  const int home = 0, me = dsm::rank();
  if (me == home)
    for (std::size_t u = 0; u < kUnits; ++u) data[u * per_unit] = -1;  // the home's first touch
  dsm::barrier();
  long wrong = 0;
  for (int round = 1; round <= kRounds; ++round) {
    if (me == home)
      for (std::size_t u = 0; u < kUnits; ++u) data[u * per_unit + static_cast<std::size_t>(round) % per_unit] = round;
    dsm::barrier();
    for (std::size_t u = 0; u < kUnits; ++u) wrong += data[u * per_unit + static_cast<std::size_t>(round) % per_unit] != round;
    dsm::barrier();
  }
  DSM_EXPECT_ALL(wrong == 0) << wrong << " stale values in " << kRounds << " rounds of " << kUnits << " units";
  dsm::barrier();
  dsm::free(raw);
}

TEST_F(collective, first_touch_by_a_rank_other_than_the_units_manager_makes_it_the_home) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a second rank";
  // A one-unit allocation is managed by rank 0 (the first block); the last rank touches it first.
  long* x = dsm::alloc<long>(1);
  const int toucher = dsm::ranks() - 1;
  if (dsm::rank() == toucher) *x = 7;
  dsm::barrier();
  const dsm::statistics before = settled();
  for (int round = 1; round <= 4; ++round) {
    if (dsm::rank() == toucher) *x = 7 + round;
    dsm::barrier();
  }
  const long seen = *x;
  const dsm::statistics after = settled();
  DSM_EXPECT_ALL(seen == 11) << "read " << seen;
  if (home_based() && first_touch()) {
    const std::uint64_t twins = after.twins_created - before.twins_created;
    DSM_EXPECT_ALL(dsm::rank() != toucher || twins == 0) << "the first toucher twinned " << twins << " times: it is not the home";
  }
  dsm::barrier();
  dsm::free(x);
}

TEST_F(collective, an_allocation_chooses_its_own_placement_over_dsm_home) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a writer other than the cyclic home";
  // Each unit is written only by the rank after its cyclic home. Placed cyclic, every write is a
  // non-home's: twins and diffs. Placed first-touch, the writer becomes the home: no twin. Whatever
  // DSM_HOME says.
  constexpr std::size_t kUnitsPerRank = 4;
  const auto n = static_cast<std::size_t>(dsm::ranks());
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  auto twins_writing = [&](dsm::placement where) {
    long* data = dsm::alloc<long>(kUnitsPerRank * n * per_unit, where);  // whole units: the heap is unit-aligned
    long wrong = 0;
    const dsm::statistics before = settled();
    for (int round = 1; round <= 3; ++round) {
      for (std::size_t u = 0; u < kUnitsPerRank * n; ++u)
        if (static_cast<std::size_t>(dsm::rank()) == (u + 1) % n) data[u * per_unit] = round * 100 + static_cast<long>(u);
      dsm::barrier();
      for (std::size_t u = 0; u < kUnitsPerRank * n; ++u) wrong += data[u * per_unit] != round * 100 + static_cast<long>(u);
      dsm::barrier();
    }
    const dsm::statistics after = settled();
    DSM_EXPECT_ALL(wrong == 0) << wrong << " wrong values";
    dsm::free(data);
    return after.twins_created - before.twins_created;
  };
  const std::uint64_t cyclic = twins_writing(dsm::placement::cyclic);
  const std::uint64_t touched = twins_writing(dsm::placement::first_touch);
  if (home_based()) {
    DSM_EXPECT_ALL(cyclic >= kUnitsPerRank) << cyclic << " twins of units placed cyclic, written by a rank not their home";
    DSM_EXPECT_ALL(touched == 0) << touched << " twins of units placed by first touch, written only by their first toucher";
  }
}

TEST_F(collective, a_unit_freed_and_allocated_again_gets_a_new_home_and_reads_zero) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a second rank";
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  long* a = dsm::alloc<long>(per_unit);
  if (dsm::rank() == 0) a[1] = 11;
  dsm::barrier();
  const long first = a[1];
  dsm::barrier();
  dsm::free(a);
  long* b = dsm::alloc<long>(per_unit);  // first fit: the same unit
  const long zero = b[1];
  dsm::barrier();
  const int second_home = dsm::ranks() - 1;
  const dsm::statistics before = settled();
  for (int round = 1; round <= 3; ++round) {
    if (dsm::rank() == second_home) b[1] = 20 + round;
    dsm::barrier();
  }
  const long second = b[1];
  const dsm::statistics after = settled();
  DSM_EXPECT_ALL(first == 11 && zero == 0 && second == 23)
      << "read " << first << " before the free, " << zero << " after it, " << second << " at the end";
  DSM_EXPECT_ALL(b == a) << "the allocation moved: the test needs the same unit";
  if (home_based() && first_touch()) {
    const std::uint64_t twins = after.twins_created - before.twins_created;
    DSM_EXPECT_ALL(dsm::rank() != second_home || twins == 0)
        << "the second allocation's first writer twinned " << twins << " times: the unit kept its old home";
  }
  dsm::barrier();
  dsm::free(b);
}

TEST_F(collective, a_lock_protected_counter_costs_two_messages_per_remote_acquire) {
  if (dsm::ranks() != 2) GTEST_SKIP() << "alternates between two ranks";
  constexpr int kWarm = 4, kRounds = 40;
  long* counter = dsm::alloc<long>(1);
  dsm::mutex m{2};
  m.bind(counter, sizeof(long));
  // The two ranks take turns (MPI_Barrier orders the turns, so every acquire is remote).
  auto turn = [&](int i) {
    if (dsm::rank() == i % 2) {
      std::lock_guard<dsm::mutex> g(m);
      *counter += 1;
    }
    MPI_Barrier(MPI_COMM_WORLD);
  };
  for (int i = 0; i < kWarm; ++i) turn(i);
  const std::uint64_t before = settled().messages_sent;
  for (int i = kWarm; i < kWarm + kRounds; ++i) turn(i);
  const std::uint64_t messages = sum_over_ranks(settled().messages_sent - before);
  long seen = 0;
  {
    std::lock_guard<dsm::mutex> g(m);
    seen = *counter;
  }
  DSM_EXPECT_ALL(seen == kWarm + kRounds) << "the counter reads " << seen;
  if (home_based() && node_local() && dsm::current_model() == dsm::model::lazy_release) {
    DSM_EXPECT_ALL(messages == 2u * kRounds)
        << messages << " messages for " << kRounds << " remote acquires and increments (want 2 each: request, token with the data)";
  }
  dsm::barrier();
  dsm::free(counter);
}

TEST_F(collective, a_jacobi_sweep_sends_only_what_its_boundaries_need) {
  if (dsm::ranks() != 2) GTEST_SKIP() << "the count is for two ranks";
  // Rows of two units each, one block of rows per rank, each rank reading its neighbour's edge row.
  const std::size_t n = 2 * dsm::unit_size() / sizeof(double);
  const std::size_t rows = 16;
  double* a = dsm::alloc<double>(rows * n);
  double* b = dsm::alloc<double>(rows * n);
  const std::size_t first = dsm::rank() == 0 ? 1 : rows / 2, last = dsm::rank() == 0 ? rows / 2 : rows - 1;
  for (std::size_t i = first; i < last; ++i)
    for (std::size_t j = 0; j < n; ++j) a[i * n + j] = b[i * n + j] = static_cast<double>(i + j);
  dsm::barrier();
  auto sweep = [&](int s) {
    const double* src = s % 2 == 0 ? a : b;
    double* dst = s % 2 == 0 ? b : a;
    for (std::size_t i = first; i < last; ++i)
      for (std::size_t j = 1; j + 1 < n; ++j)
        dst[i * n + j] = 0.25 * (src[(i - 1) * n + j] + src[(i + 1) * n + j] + src[i * n + j - 1] + src[i * n + j + 1]);
    dsm::barrier();
  };
  for (int s = 0; s < 4; ++s) sweep(s);  // every boundary unit shared and tracked
  const std::uint64_t base = settled().messages_sent;
  dsm::barrier();
  const std::uint64_t per_barrier = sum_over_ranks(settled().messages_sent - base);
  constexpr int kSweeps = 60;
  const dsm::statistics before = settled();
  for (int s = 4; s < 4 + kSweeps; ++s) sweep(s);
  const dsm::statistics after = settled();
  const std::uint64_t messages = sum_over_ranks(after.messages_sent - before.messages_sent) - kSweeps * per_barrier;
  const std::uint64_t renewed = sum_over_ranks(after.pushes_renewed - before.pushes_renewed);
  const std::uint64_t misses = sum_over_ranks(after.read_misses - before.read_misses);
  // The result against the same sweeps done here, privately.
  std::vector<double> pa(rows * n, 0.0), pb(rows * n, 0.0);
  for (std::size_t i = 1; i + 1 < rows; ++i)
    for (std::size_t j = 0; j < n; ++j) pa[i * n + j] = pb[i * n + j] = static_cast<double>(i + j);
  for (int s = 0; s < 4 + kSweeps; ++s) {
    const double* src = s % 2 == 0 ? pa.data() : pb.data();
    double* dst = s % 2 == 0 ? pb.data() : pa.data();
    for (std::size_t i = 1; i + 1 < rows; ++i)
      for (std::size_t j = 1; j + 1 < n; ++j)
        dst[i * n + j] = 0.25 * (src[(i - 1) * n + j] + src[(i + 1) * n + j] + src[i * n + j - 1] + src[i * n + j + 1]);
  }
  const double* got = (4 + kSweeps) % 2 == 0 ? a : b;
  const std::vector<double>& want = (4 + kSweeps) % 2 == 0 ? pa : pb;
  long wrong = 0;
  for (std::size_t i = 0; i < rows * n; ++i) wrong += got[i] != want[i];
  DSM_EXPECT_ALL(wrong == 0) << wrong << " wrong values";
  if (home_based() && first_touch()) {
    // Each rank reads its neighbour's edge row (two units) once per sweep: through shared memory
    // with no message, or else from the barrier's release, which carries the row its home wrote
    // in the sweep (docs/protocols.md, "Data with the barrier"): 8 pushes after the first fetch.
    // The one that leaves 2 is a probe: installed without access, so the reader's next read faults
    // here, with no message, and its next barrier arrival renews the pushes (twice as many as
    // last time, up to 64 left). Grid a's edge rows are read in even sweeps and written in odd
    // ones: fetched in sweep 0 only, probed at its 6th and 22nd pushes; grid b's one sweep later.
    // A fetch is one request and one reply that carries both units; the units it brought with
    // them that the reader does not read (rank 0's, below its edge row) stop after their probe.
    std::uint64_t fetches = 0, probes = 0;
    for (int grid = 0; grid < 2; ++grid) {
      bool valid = false, probed = false;
      int left = 0, given = 0, used_up = 0;
      for (int s = 0; s < 4 + kSweeps; ++s) {
        if (s % 2 == grid) {  // read
          if (!valid) {
            fetches += s >= 4 ? 1 : 0;
            given = used_up == 0 ? 8 : std::min(2 * used_up, 64);
            left = given, used_up = 0, valid = true;
          } else if (probed) {  // read since the probe: renewed at this barrier
            probes += s >= 4 ? 1 : 0;
            probed = false;
            if (left > 0) given = std::min(2 * given, 64), left = std::min(left + given, 64);
          }
        } else if (left > 0) {  // written and pushed
          if (--left == 2) probed = true;
          if (left == 0) used_up = given;
        } else {  // written: the copy is dropped
          valid = false, probed = false;
        }
      }
    }
    const std::uint64_t want_messages = node_local() ? 0 : 2u * 2u * fetches;
    DSM_EXPECT_ALL(messages == want_messages)
        << messages << " messages in " << kSweeps << " sweeps besides the barriers' own " << per_barrier
        << " each (want " << want_messages << ")";
    // Two ranks, two units each: every read miss in these sweeps is a probe read (node-mates
    // refresh their copies from the home's memory instead, and miss when their credit runs out).
    const std::uint64_t want_renewed = node_local() ? 0 : 2u * 2u * probes;
    DSM_EXPECT_ALL(renewed == want_renewed && (node_local() || misses == want_renewed))
        << renewed << " pushes renewed and " << misses << " read misses (want " << want_renewed << " each, "
        << probes << " probes per unit)";
  }
  dsm::barrier();
  dsm::free(b);
  dsm::free(a);
}

}  // namespace
