// allocator_test: the collective allocator is deterministic, unit-aligned, first-fit, coalesces
// freed neighbours, and reports exhaustion instead of overlapping allocations.
#include "alloc/allocator.hpp"

#include <gtest/gtest.h>

namespace {
using dsm::rt::allocator;

TEST(Allocator, UnitAlignedAndDisjoint) {
  allocator a(1 << 20, 4096);
  auto x = a.allocate(1), y = a.allocate(5000), z = a.allocate(4096);
  ASSERT_TRUE(x && y && z);
  EXPECT_EQ(*x, 0u);
  EXPECT_EQ(*y, 4096u);
  EXPECT_EQ(*z, 4096u * 3);
  EXPECT_EQ(*a.length_of(*y), 8192u);
  EXPECT_FALSE(a.length_of(100));
}

TEST(Allocator, TwoInstancesAgree) {
  allocator a(1 << 24, 4096), b(1 << 24, 4096);
  for (std::uint64_t i = 1; i < 200; ++i) {
    auto p = a.allocate(i * 1000), q = b.allocate(i * 1000);
    ASSERT_EQ(p, q);
    if (i % 3 == 0) {
      a.release(*p);
      b.release(*q);
    }
  }
}

TEST(Allocator, FreedRangesCoalesceAndAreReused) {
  allocator a(16 * 4096, 4096);
  auto x = a.allocate(4096), y = a.allocate(4096), z = a.allocate(4096);
  a.release(*x);
  a.release(*z);
  a.release(*y);
  EXPECT_EQ(a.in_use(), 0u);
  auto all = a.allocate(16 * 4096);
  ASSERT_TRUE(all);
  EXPECT_EQ(*all, 0u);
}

TEST(Allocator, Exhaustion) {
  allocator a(4 * 4096, 4096);
  EXPECT_TRUE(a.allocate(3 * 4096));
  EXPECT_FALSE(a.allocate(2 * 4096));
  EXPECT_TRUE(a.allocate(4096));
  EXPECT_FALSE(a.allocate(1));
  EXPECT_FALSE(a.allocate(std::uint64_t{1} << 40));
}

}  // namespace
