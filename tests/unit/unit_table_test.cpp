// unit_table_test: unit states as allocated, copysets at the home, and the protection of the
// application view: a unit is readable or writable exactly when its state allows it, and however
// scattered the protections, the kernel mappings of the space stay under the table's budget.
#include "memory/unit_table.hpp"

#include <gtest/gtest.h>
#include <setjmp.h>
#include <signal.h>

#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>
#include <string>

namespace {
using namespace dsm::rt;

constexpr std::uint64_t kUnit = 4096;
const global_space::agreement kAlone = [](bool ok) { return ok; };

// Mappings of /proc/self/maps inside [lo, hi).
int mappings_in(const void* lo, std::uint64_t bytes) {
  const auto a = reinterpret_cast<std::uintptr_t>(lo), b = a + bytes;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  int n = 0;
  while (std::getline(maps, line)) {
    std::uintptr_t s = 0, e = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx", &s, &e) == 2 && s < b && e > a) ++n;
  }
  return n;
}

sigjmp_buf g_jump;
void on_fault(int) { siglongjmp(g_jump, 1); }

// True if reading (or writing) p faults.
bool faults(volatile char* p, bool write) {
  struct sigaction sa, old;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_handler = on_fault;
  sigaction(SIGSEGV, &sa, &old);
  bool faulted = false;
  if (sigsetjmp(g_jump, 1) == 0) {
    if (write) *p = *p;
    else (void)*p;
  } else {
    faulted = true;
  }
  sigaction(SIGSEGV, &old, nullptr);
  return faulted;
}

TEST(UnitTable, AsAllocatedTheHomeOwnsAndNobodyElseHasACopy) {
  global_space space(kAlone, 64 * kUnit, kUnit);
  unit_table rank1(space, 1, 4, 1000);
  EXPECT_EQ(rank1.home(5), 1);
  EXPECT_EQ(rank1.state(5), holding::owner_sole);
  EXPECT_EQ(rank1.state(6), holding::invalid);
  EXPECT_EQ(rank1.owner(5), 1);
  EXPECT_TRUE(rank1.in_copyset(5, 1));
  EXPECT_FALSE(rank1.in_copyset(5, 0));
}

TEST(UnitTable, Copysets) {
  global_space space(kAlone, 256 * kUnit, kUnit);
  unit_table t(space, 0, 70, 1000);  // more ranks than one bitmap word
  const std::uint64_t u = 140;       // home 0
  t.add_copy(u, 3);
  t.add_copy(u, 69);
  std::vector<int> seen;
  t.for_each_copy(u, [&](int r) { seen.push_back(r); });
  EXPECT_EQ(seen, (std::vector<int>{0, 3, 69}));
  t.clear_copyset(u);
  t.add_copy(u, 64);
  t.set_owner(u, 64);
  seen.clear();
  t.for_each_copy(u, [&](int r) { seen.push_back(r); });
  EXPECT_EQ(seen, (std::vector<int>{64}));
  EXPECT_EQ(t.owner(u), 64);
}

TEST(UnitTable, ProtectionFollowsTheState) {
  global_space space(kAlone, 8 * kUnit, kUnit);
  unit_table t(space, 0, 1, 1000);
  auto* p = reinterpret_cast<volatile char*>(space.app_unit(3));
  EXPECT_TRUE(faults(p, false));  // not mapped yet, although valid here
  t.map(3);
  EXPECT_FALSE(faults(p, false));
  EXPECT_FALSE(faults(p, true));
  t.set_state(3, holding::owner_shared);
  EXPECT_FALSE(faults(p, false));
  EXPECT_TRUE(faults(p, true));
  t.set_state(3, holding::invalid);
  EXPECT_TRUE(faults(p, false));
  t.map(3);  // nothing to map: invalid
  EXPECT_TRUE(faults(p, false));
}

TEST(UnitTable, ABatchProtectsOnlyTheUnitsWhoseAccessChanged) {
  global_space space(kAlone, 16 * kUnit, kUnit);
  unit_table t(space, 0, 1, 1000);
  {
    unit_table::batch b(t);
    for (std::uint64_t u = 2; u < 8; ++u) t.map(u);
  }
  EXPECT_EQ(t.protection_calls(), 1u);  // one run: units 2..7, writable
  auto* p = reinterpret_cast<volatile char*>(space.app_unit(4));
  EXPECT_FALSE(faults(p, true));
  // A release that drops copies and installs them again: the access ends where it began.
  {
    unit_table::batch b(t);
    for (std::uint64_t u = 2; u < 8; ++u) t.set_state(u, holding::invalid);
    for (std::uint64_t u = 2; u < 8; ++u) t.set_state(u, holding::owner_sole);
  }
  EXPECT_EQ(t.protection_calls(), 1u);
  EXPECT_FALSE(faults(p, true));
  // Two units of the run lose write access, and one is dropped and installed again: one call, for
  // the two.
  {
    unit_table::batch b(t);
    t.set_state(3, holding::invalid);
    t.set_state(3, holding::owner_sole);
    t.set_state(4, holding::owner_shared);
    t.set_state(5, holding::owner_shared);
  }
  EXPECT_EQ(t.protection_calls(), 2u);
  EXPECT_TRUE(faults(p, true));
  EXPECT_FALSE(faults(p, false));
  EXPECT_FALSE(faults(reinterpret_cast<volatile char*>(space.app_unit(3)), true));
}

TEST(UnitTable, DataWrittenThroughTheRuntimeViewIsSeenByTheApplication) {
  global_space space(kAlone, 8 * kUnit, kUnit);
  unit_table t(space, 0, 1, 1000);
  std::memcpy(space.runtime_unit(2) + 10, "hello", 6);
  t.map(2);
  EXPECT_STREQ(reinterpret_cast<const char*>(space.app_unit(2) + 10), "hello");
  space.zero(2 * kUnit, kUnit);
  EXPECT_EQ(space.app_unit(2)[10], std::byte{0});
}

TEST(UnitTable, ScatteredProtectionsStayUnderTheMappingBudget) {
  constexpr std::uint64_t kUnits = 4096;
  constexpr std::uint64_t kBudget = 100;
  global_space space(kAlone, kUnits * kUnit, kUnit);
  unit_table t(space, 0, 1, kBudget);
  for (std::uint64_t u = 0; u < kUnits; u += 2) {
    t.map(u);
    ASSERT_LE(t.protection_runs(), kBudget);
  }
  EXPECT_GT(t.map_resets(), 0u);
  EXPECT_LE(mappings_in(space.app_base(), space.size()), static_cast<int>(kBudget) + 1);
  // A unit dropped by a reset is valid but unmapped; mapping it again makes it accessible.
  EXPECT_TRUE(faults(reinterpret_cast<volatile char*>(space.app_unit(0)), false));
  t.map(0);
  EXPECT_FALSE(faults(reinterpret_cast<volatile char*>(space.app_unit(0)), true));
}

TEST(UnitTable, DefaultBudgetIsHalfOfMaxMapCount) {
  std::ifstream f("/proc/sys/vm/max_map_count");
  std::uint64_t max = 0;
  f >> max;
  EXPECT_EQ(unit_table::default_map_budget(), max / 2);
}

}  // namespace
