// alloc_test.cpp: the contract of dsm::alloc and dsm::free. An allocation returns the same pointer
// on every rank (the addresses are gathered over MPI and compared), suitably aligned, and every byte
// of it reads zero on every rank; live allocations do not overlap; after a rank dirties a block and
// it is freed, a new allocation again reads zero everywhere; dsm::free of memory dsm did not
// allocate throws dsm::error. Holds under every consistency model.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

// Collective: true iff p is the same address on every rank.
bool same_on_all_ranks(const void* p) {
  const auto mine = static_cast<unsigned long long>(reinterpret_cast<std::uintptr_t>(p));
  std::vector<unsigned long long> all(static_cast<std::size_t>(dsm::ranks()));
  MPI_Allgather(&mine, 1, MPI_UNSIGNED_LONG_LONG, all.data(), 1, MPI_UNSIGNED_LONG_LONG, MPI_COMM_WORLD);
  for (unsigned long long a : all) {
    if (a != all[0]) return false;
  }
  return true;
}

// Number of non-zero bytes in [p, p + n).
std::size_t nonzero_bytes(const void* p, std::size_t n) {
  const auto* b = static_cast<const unsigned char*>(p);
  std::size_t count = 0;
  for (std::size_t i = 0; i < n; ++i) count += b[i] != 0;
  return count;
}

TEST_F(collective, same_pointer_on_every_rank_and_zero_filled) {
  const std::size_t sizes[] = {1, 8, 100, dsm::unit_size(), dsm::unit_size() + 1, 5 * dsm::unit_size() + 17};
  for (std::size_t bytes : sizes) {
    char* p = dsm::alloc<char>(bytes);
    DSM_ASSERT_ALL(p != nullptr) << bytes << " bytes";
    DSM_EXPECT_ALL(same_on_all_ranks(p)) << "dsm::alloc<char>(" << bytes << ") returned "
                                         << static_cast<void*>(p) << " on rank " << dsm::rank();
    const std::size_t dirty = nonzero_bytes(p, bytes);
    DSM_EXPECT_ALL(dirty == 0) << dirty << " non-zero bytes in a fresh block of " << bytes;
    dsm::barrier();
    dsm::free(p);
  }
}

struct alignas(64) cache_line {
  char bytes[64];
};

TEST_F(collective, alignment_of_the_type_is_honoured) {
  char* c = dsm::alloc<char>(3);  // leaves the next block unaligned if alignment were ignored
  double* d = dsm::alloc<double>(7);
  cache_line* l = dsm::alloc<cache_line>(3);
  const bool aligned = reinterpret_cast<std::uintptr_t>(d) % alignof(double) == 0 &&
                       reinterpret_cast<std::uintptr_t>(l) % alignof(cache_line) == 0;
  DSM_EXPECT_ALL(aligned) << "double* " << static_cast<void*>(d) << ", cache_line* " << static_cast<void*>(l);
  DSM_EXPECT_ALL(same_on_all_ranks(d) && same_on_all_ranks(l));
  dsm::free(l);
  dsm::free(d);
  dsm::free(c);
}

// Several live blocks: disjoint, and a write to one leaves the others untouched.
TEST_F(collective, live_blocks_do_not_overlap) {
  constexpr int kBlocks = 6;
  const std::size_t bytes = dsm::unit_size() / 2 + 24;
  std::vector<unsigned char*> blocks;
  for (int i = 0; i < kBlocks; ++i) blocks.push_back(dsm::alloc<unsigned char>(bytes));
  bool disjoint = true;
  for (int i = 0; i < kBlocks; ++i) {
    for (int j = 0; j < kBlocks; ++j) {
      if (i != j && blocks[i] < blocks[j] + bytes && blocks[j] < blocks[i] + bytes) disjoint = false;
    }
  }
  DSM_ASSERT_ALL(disjoint) << "two live dsm::alloc blocks overlap";
  // Block i is filled with i + 1 by rank i % ranks(), the others are read by every rank.
  for (int i = 0; i < kBlocks; ++i) {
    if (i % dsm::ranks() == dsm::rank()) std::memset(blocks[i], i + 1, bytes);
  }
  dsm::barrier();
  std::size_t wrong = 0;
  for (int i = 0; i < kBlocks; ++i) {
    for (std::size_t k = 0; k < bytes; ++k) wrong += blocks[i][k] != static_cast<unsigned char>(i + 1);
  }
  DSM_EXPECT_ALL(wrong == 0) << wrong << " bytes hold another block's value";
  dsm::barrier();
  for (int i = kBlocks; i-- > 0;) dsm::free(blocks[i]);
}

// alloc, dirty on every rank, free, alloc again the same size: the new block reads zero everywhere,
// whether or not it reuses the old addresses.
TEST_F(collective, reallocation_after_free_is_zero_filled_again) {
  const std::size_t bytes = 4 * dsm::unit_size();
  for (int round = 0; round < 3; ++round) {
    unsigned char* p = dsm::alloc<unsigned char>(bytes);
    DSM_EXPECT_ALL(same_on_all_ranks(p));
    const std::size_t dirty = nonzero_bytes(p, bytes);
    DSM_EXPECT_ALL(dirty == 0) << "round " << round << ": " << dirty << " non-zero bytes in a fresh block at "
                               << static_cast<void*>(p);
    dsm::barrier();
    // Rank r dirties the bytes r, r + ranks(), ...; then every rank reads all of them, so every rank
    // holds a copy of every unit when the block is freed.
    for (std::size_t i = static_cast<std::size_t>(dsm::rank()); i < bytes;
         i += static_cast<std::size_t>(dsm::ranks())) {
      p[i] = 0xA5;
    }
    dsm::barrier();
    const std::size_t set = nonzero_bytes(p, bytes);
    DSM_EXPECT_ALL(set == bytes) << "round " << round << ": only " << set << " of " << bytes
                                 << " bytes written";
    dsm::barrier();
    dsm::free(p);
  }
}

TEST_F(collective, free_of_memory_dsm_did_not_allocate_throws) {
  long local = 0;
  bool threw = false;
  try {
    dsm::free(&local);
  } catch (const dsm::error& e) {
    threw = true;
    EXPECT_NE(std::string(e.what()), "") << "dsm::error without a message";
  }
  DSM_EXPECT_ALL(threw) << "dsm::free(&stack_variable) did not throw dsm::error";
}

}  // namespace
