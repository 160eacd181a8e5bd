// barrier_test.cpp: writes made before dsm::barrier() are read after it, on every rank. Every rank
// writes its own slice of a shared array that spans many units, then after a barrier every rank
// checks every element; a few rounds with different values, so a stale copy from the previous round
// is caught. Slices are unit-aligned in one test and deliberately not in the others (several ranks
// write the same unit, down to adjacent bytes of one word), which must make no difference. The
// program is data-race free, so this holds under every consistency model.
#include <gtest/gtest.h>

#include <cstddef>
#include <cstdint>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

constexpr int kRounds = 4;

// The value element i holds in round `round`: different in every round and for every element.
std::uint64_t value_of(std::size_t i, int round) {
  return (static_cast<std::uint64_t>(i) * 2654435761u) ^ (static_cast<std::uint64_t>(round + 1) << 40) ^
         0x5a5a5a5aull;
}

// The owner of element i when `n` elements are cut into ranks() contiguous slices.
int owner_of(std::size_t i, std::size_t n) {
  const std::size_t per =
      (n + static_cast<std::size_t>(dsm::ranks()) - 1) / static_cast<std::size_t>(dsm::ranks());
  return static_cast<int>(i / per);
}

// Every rank writes its slice in each round, barrier, every rank checks all n elements.
void write_slices_and_check(std::uint64_t* array, std::size_t n) {
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t i = 0; i < n; ++i) {
      if (owner_of(i, n) == dsm::rank()) array[i] = value_of(i, round);
    }
    dsm::barrier();
    std::size_t wrong = 0;
    std::size_t first_wrong = n;
    for (std::size_t i = 0; i < n; ++i) {
      if (array[i] != value_of(i, round)) {
        if (wrong++ == 0) first_wrong = i;
      }
    }
    DSM_ASSERT_ALL(wrong == 0) << "round " << round << ": " << wrong << " of " << n
                               << " elements wrong, first at index " << first_wrong << " (written by rank "
                               << (first_wrong < n ? owner_of(first_wrong, n) : -1) << ")";
    dsm::barrier();  // nobody writes the next round before everybody has checked this one
  }
}

TEST_F(collective, unit_aligned_slices_are_seen_by_every_rank) {
  const std::size_t per_unit = dsm::unit_size() / sizeof(std::uint64_t);
  const std::size_t n = per_unit * 3 * static_cast<std::size_t>(dsm::ranks());  // 3 units per rank
  std::uint64_t* array = dsm::alloc<std::uint64_t>(n);
  write_slices_and_check(array, n);
  dsm::free(array);
}

// Slice boundaries fall inside units, so two ranks write each boundary unit in the same interval.
TEST_F(collective, unaligned_slices_are_seen_by_every_rank) {
  const std::size_t per_unit = dsm::unit_size() / sizeof(std::uint64_t);
  const std::size_t n = per_unit * 2 * static_cast<std::size_t>(dsm::ranks()) + per_unit / 2 + 3;
  std::uint64_t* array = dsm::alloc<std::uint64_t>(n);
  write_slices_and_check(array, n);
  dsm::free(array);
}

// Rank r writes the bytes i with i % ranks() == r: ranks write adjacent bytes of the same words.
TEST_F(collective, interleaved_bytes_of_one_unit_all_survive) {
  constexpr std::size_t kBytes = 256;
  unsigned char* bytes = dsm::alloc<unsigned char>(kBytes);
  for (int round = 0; round < kRounds; ++round) {
    for (std::size_t i = static_cast<std::size_t>(dsm::rank()); i < kBytes;
         i += static_cast<std::size_t>(dsm::ranks())) {
      bytes[i] = static_cast<unsigned char>(i * 7 + static_cast<std::size_t>(round) * 31 + 1);
    }
    dsm::barrier();
    std::size_t wrong = 0;
    for (std::size_t i = 0; i < kBytes; ++i) {
      wrong += bytes[i] != static_cast<unsigned char>(i * 7 + static_cast<std::size_t>(round) * 31 + 1);
    }
    DSM_ASSERT_ALL(wrong == 0) << "round " << round << ": " << wrong << " of " << kBytes << " bytes wrong";
    dsm::barrier();
  }
  dsm::free(bytes);
}

// Message passing through a barrier (litmus MP+barrier): one rank writes data, every other rank
// reads it after the barrier; the writer rotates so every rank is writer once.
TEST_F(collective, data_written_by_one_rank_is_read_by_all_after_a_barrier) {
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  long* data = dsm::alloc<long>(2 * per_unit);
  for (int writer = 0; writer < dsm::ranks(); ++writer) {
    if (dsm::rank() == writer) {
      data[0] = 1000 + writer;
      data[per_unit + 1] = 2000 + writer;
    }
    dsm::barrier();
    const long a = data[0];
    const long b = data[per_unit + 1];
    DSM_ASSERT_ALL(a == 1000 + writer && b == 2000 + writer)
        << "writer " << writer << ": read " << a << " and " << b;
    dsm::barrier();
  }
  dsm::free(data);
}

}  // namespace
