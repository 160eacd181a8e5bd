// false_sharing_test.cpp: several ranks write disjoint parts of the same units between barriers
// (false sharing, as the row-major layout of the LU benchmark does), and after each barrier every
// rank checks every value. Each test allocates fresh units for each round, so that units are
// fetched while other ranks are writing them, not only copied once at the start. The programs are
// data-race free (each word has one writer per interval, and it is read only after a barrier), so
// they hold under every consistency model.
//
// MPI_Barrier (not dsm::barrier) orders some accesses in time inside an interval: it is not a
// dsm synchronisation and makes no write visible; it only forces the interleaving under test.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <vector>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

// The value word i holds at the end of `round`: zero in most bytes (as the memory was when
// allocated) and different in the others, in every round and for every word.
std::uint64_t final_value(std::size_t i, int round) {
  return ((static_cast<std::uint64_t>(i) % 251 + 1) << 8) | static_cast<std::uint64_t>(round + 1);
}

// Rank r owns the words i with (i / stride) % ranks == r.
int owner_of(std::size_t i, std::size_t stride) {
  return static_cast<int>((i / stride) % static_cast<std::size_t>(dsm::ranks()));
}

// Counts the words of `a` (n long) that do not hold final_value; reports the first.
std::size_t count_wrong(const std::uint64_t* a, std::size_t n, int round, std::size_t& first) {
  std::size_t wrong = 0;
  first = n;
  for (std::size_t i = 0; i < n; ++i) {
    if (a[i] != final_value(i, round) && wrong++ == 0) first = i;
  }
  return wrong;
}

// A rank writes an intermediate value to its words, other ranks fetch the same units while it has
// not released them, and then it writes the final value, which equals the original (zero) in most
// bytes. The ranks take turns, so every rank writes its intermediate values before the ranks after
// it fetch the units from their homes. A rank that was sent a home's unreleased intermediate bytes
// would keep them where the home's diff (final value against the original) has no run.
TEST_F(collective, bytes_written_back_before_a_release_do_not_leak_to_a_fetching_rank) {
  const std::size_t per_unit = dsm::unit_size() / sizeof(std::uint64_t);
  const std::size_t n = per_unit * 2 * static_cast<std::size_t>(dsm::ranks());
  constexpr int kRounds = 3;
  std::vector<std::uint64_t*> arrays;
  for (int round = 0; round < kRounds; ++round) {
    std::uint64_t* a = dsm::alloc<std::uint64_t>(n);  // fresh units: invalid everywhere but at home
    arrays.push_back(a);
    const std::size_t stride = static_cast<std::size_t>(1 + round * 3);
    for (int turn = 0; turn < dsm::ranks(); ++turn) {
      if (turn == dsm::rank()) {
        for (std::size_t i = 0; i < n; ++i)
          if (owner_of(i, stride) == dsm::rank()) a[i] = ~std::uint64_t{0};
      }
      MPI_Barrier(MPI_COMM_WORLD);
    }
    for (std::size_t i = 0; i < n; ++i)
      if (owner_of(i, stride) == dsm::rank()) a[i] = final_value(i, round);
    dsm::barrier();
    std::size_t first = 0;
    const std::size_t wrong = count_wrong(a, n, round, first);
    DSM_ASSERT_ALL(wrong == 0) << "round " << round << ": " << wrong << " of " << n << " words wrong, first at "
                               << first << " (owner rank " << (first < n ? owner_of(first, stride) : -1) << ", read "
                               << std::hex << (first < n ? a[first] : 0) << ")";
    dsm::barrier();
  }
  for (std::uint64_t* a : arrays) dsm::free(a);
}

// Many rounds of writes to interleaved slices of shared units. The words are cut into ranks() + 1
// classes; each round every rank writes one class, and the class nobody writes that round is read
// in the middle of the interval. The writer of each class rotates, ranks start at different units,
// and a fresh array comes every few rounds, so that fetches and diffs overlap in many orders as the
// ranks reach the barrier at different times.
TEST_F(collective, interleaved_slices_of_shared_units_survive_many_rounds) {
  const std::size_t per_unit = dsm::unit_size() / sizeof(std::uint64_t);
  const std::size_t n = per_unit * 3 * static_cast<std::size_t>(dsm::ranks()) + per_unit / 3;
  constexpr int kRounds = 24;
  constexpr int kFresh = 4;  // a new array every kFresh rounds
  constexpr std::size_t kStride = 5;
  const std::size_t classes = static_cast<std::size_t>(dsm::ranks()) + 1;
  // The rank that writes word i in `round`, or ranks() for nobody.
  const auto writer = [&](std::size_t i, int round) {
    return static_cast<int>(((i / kStride) + static_cast<std::size_t>(round)) % classes);
  };
  std::vector<std::uint64_t*> arrays;
  std::vector<std::uint64_t> expected;
  std::uint64_t* a = nullptr;
  std::uint64_t read_sum = 0, expected_sum = 0;
  for (int round = 0; round < kRounds; ++round) {
    if (round % kFresh == 0) {
      a = dsm::alloc<std::uint64_t>(n);
      arrays.push_back(a);
      expected.assign(n, 0);
    }
    // First an intermediate value in every word this rank writes, then (after the reads) the
    // final one, so that other ranks fetch units in between.
    const std::size_t start = (static_cast<std::size_t>(dsm::rank()) * n) / static_cast<std::size_t>(dsm::ranks());
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (start + k) % n;
      if (writer(i, round) == dsm::rank()) a[i] = ~final_value(i, round);
    }
    for (std::size_t k = 0; k < n; ++k) {
      const std::size_t i = (start + k) % n;
      const int w = writer(i, round);
      if (w == dsm::rank()) {
        a[i] = final_value(i, round);
      } else if (w == dsm::ranks() && k % 3 == 0) {
        read_sum += a[i];
        expected_sum += expected[i];
      }
    }
    for (std::size_t i = 0; i < n; ++i)
      if (writer(i, round) < dsm::ranks()) expected[i] = final_value(i, round);
    dsm::barrier();
    std::size_t wrong = 0, first = n;
    for (std::size_t i = 0; i < n; ++i)
      if (a[i] != expected[i] && wrong++ == 0) first = i;
    DSM_ASSERT_ALL(wrong == 0 && read_sum == expected_sum)
        << "round " << round << ": " << wrong << " of " << n << " words wrong, first at " << first << " (read "
        << std::hex << (first < n ? a[first] : 0) << std::dec << "); sum of the words read in the interval "
        << read_sum << ", expected " << expected_sum;
    dsm::barrier();
  }
  for (std::uint64_t* p : arrays) dsm::free(p);
}

// A rank keeps writing one word of units nobody else has read (its home's private units, under the
// release models written in place without faults) while the other ranks read another word of the
// same units, each read fetching a unit from its home in the middle of those writes, and the home
// starting to track the unit's writes then (home_lazy_release.cpp, serve: after the reply, a write
// made between the copy and the protection counted as a later one). After the barrier every rank
// must see the writer's last value. (Its writes go on after the fetch, so they would be announced
// even if one made inside that window were lost: no test from outside can place the last write
// there.)
TEST_F(collective, a_unit_fetched_while_its_home_writes_it_shows_the_last_write_after_the_barrier) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a reader";
  const std::size_t per_unit = dsm::unit_size() / sizeof(std::uint64_t);
  constexpr std::size_t kUnits = 8;
  constexpr int kRounds = 4;
  for (int round = 0; round < kRounds; ++round) {
    std::uint64_t* a = dsm::alloc<std::uint64_t>(per_unit * kUnits);  // fresh units
    const int writer = round % dsm::ranks();
    std::uint64_t last = 0, seen_other = 0;
    if (dsm::rank() == writer) {
      volatile std::uint64_t* w = a;
      for (std::size_t k = 0; k < kUnits; ++k) w[k * per_unit] = 1;  // its first writes: it is the home
    }
    dsm::barrier();  // (the readers have not touched these units: their first read below fetches)
    if (dsm::rank() == writer) {
      // Writes for 20 ms, through the readers' fetches.
      volatile std::uint64_t* w = a;
      const double until = MPI_Wtime() + 0.02;
      do {
        ++last;
        for (std::size_t k = 0; k < kUnits; ++k) w[k * per_unit] = last + 1;
      } while ((last & 1023) != 0 || MPI_Wtime() < until);
      ++last;  // the value the words hold
    } else {
      const volatile std::uint64_t* r = a;
      for (std::size_t k = 0; k < kUnits; ++k) seen_other += r[k * per_unit + 1];  // never written: zero
    }
    MPI_Bcast(&last, 1, MPI_UINT64_T, writer, MPI_COMM_WORLD);
    dsm::barrier();
    std::size_t wrong = 0;
    std::uint64_t first = 0;
    for (std::size_t k = 0; k < kUnits; ++k)
      if (a[k * per_unit] != last && wrong++ == 0) first = a[k * per_unit];
    DSM_ASSERT_ALL(wrong == 0 && seen_other == 0)
        << "round " << round << ": " << wrong << " of " << kUnits << " units show a write older than the last ("
        << first << " instead of " << last << "); words never written read as " << seen_other;
    dsm::barrier();
    dsm::free(a);
  }
}

}  // namespace
