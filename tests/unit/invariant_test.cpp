// invariant_test: the expensive invariant checks (DSM_INVARIANT) end the process with "invariant
// violated" and the message when the condition is false and DSM_INVARIANTS=1 turned them on, and
// otherwise never evaluate the condition; diff_reproduces, the check behind the diff invariants,
// tells a diff that turns its twin into the unit from one that does not.
#include <gtest/gtest.h>

#include <vector>

#include "base/invariant.hpp"
#include "base/log.hpp"
#include "memory/diff.hpp"

namespace {
using namespace dsm::rt;

// Turns the checks on or off for one test, as init does from DSM_INVARIANTS.
class Invariant : public ::testing::Test {
 protected:
  void TearDown() override { g_invariant_checks = false; }
};

TEST_F(Invariant, FalseConditionEndsTheProcessWhenOn) {
  g_invariant_checks = true;
  EXPECT_DEATH(DSM_INVARIANT(false, "unit %d broken", 7), "fatal: invariant violated: unit 7 broken");
}

TEST_F(Invariant, ConditionNotEvaluatedWhenOff) {
  int evaluated = 0;
  auto fails = [&] {
    ++evaluated;
    return false;
  };
  g_invariant_checks = false;
  DSM_INVARIANT(fails(), "unit %d broken", 7);
  EXPECT_EQ(evaluated, 0) << "DSM_INVARIANT evaluated its condition with the checks off";
}

TEST_F(Invariant, TrueConditionGoesOnWhenOn) {
  int evaluated = 0;
  g_invariant_checks = true;
  DSM_INVARIANT(++evaluated == 1, "never");
  EXPECT_EQ(evaluated, 1);
}

TEST_F(Invariant, DiffReproduces) {
  std::vector<std::byte> twin(4096, std::byte{1}), now = twin;
  now[10] = std::byte{2};
  now[4000] = std::byte{3};
  std::vector<std::byte> d;
  diff_encode(twin.data(), now.data(), 4096, d);
  EXPECT_TRUE(diff_reproduces(d, twin.data(), now.data(), 4096));
  now[2000] = std::byte{9};  // a change the diff does not carry
  EXPECT_FALSE(diff_reproduces(d, twin.data(), now.data(), 4096));
  d.pop_back();  // truncated: not valid
  EXPECT_FALSE(diff_reproduces(d, twin.data(), twin.data(), 4096));
}

}  // namespace
