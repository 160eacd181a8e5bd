// heap_test.cpp: the heap settings dsm::init applies (facade/wiring.cpp, keep_freed_heap). The
// buffers of each barrier and bulk message are allocated and freed again at every call; glibc's
// defaults would give the freed top of the heap back to the kernel each time, and map each block of
// 128 KiB or more on its own, so that every call paid page faults. After init, a 4 MiB block comes
// from the heap, and the heap keeps its size once the block is freed. The environment's own choice
// wins: with MALLOC_TRIM_THRESHOLD_ or GLIBC_TUNABLES set, nothing is changed (not tested here).
#include <gtest/gtest.h>
#include <malloc.h>

#include <cstdlib>
#include <cstring>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

TEST_F(collective, a_freed_block_stays_in_the_heap_for_the_next_call) {
  const struct mallinfo2 before = mallinfo2();
  constexpr std::size_t kBlock = std::size_t{4} << 20;
  auto* block = static_cast<char*>(std::malloc(kBlock));
  ASSERT_NE(block, nullptr);
  std::memset(block, 1, kBlock);
  const struct mallinfo2 with = mallinfo2();
  std::free(block);
  const struct mallinfo2 after = mallinfo2();
  EXPECT_LT(with.hblkhd, before.hblkhd + kBlock) << "a 4 MiB block was mapped on its own, not taken from the heap";
  EXPECT_GE(with.arena, kBlock);
  EXPECT_EQ(after.arena, with.arena) << "the heap shrank by " << (with.arena - after.arena) << " bytes when the block was freed";
}

}  // namespace
