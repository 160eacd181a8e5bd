// mpi_test.hpp: helpers for GoogleTest suites that run under mpirun with one dsm::runtime per rank.
//
// The rule they enforce: a rank never returns early from collective code on its own, because the
// others would then wait forever in the next dsm::barrier() or dsm::alloc(). A condition that may
// hold on one rank and fail on another is combined across ranks first (DSM_EXPECT_ALL,
// DSM_ASSERT_ALL, all_ranks); then every rank records the same verdict, and with DSM_ASSERT_ALL
// every rank leaves the test together. The failure message names the ranks where the condition was
// false. Every helper here is collective over MPI_COMM_WORLD: all ranks must reach it, in the same
// order. Called from the application thread only.
//
//   TEST_F(collective, counter) {
//     long* c = dsm::alloc<long>(1);
//     ...
//     DSM_ASSERT_ALL(*c == expected) << "read " << *c;   // every rank returns if any rank fails
//   }
#ifndef DSM_TESTS_SUPPORT_MPI_TEST_HPP_
#define DSM_TESTS_SUPPORT_MPI_TEST_HPP_

#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include "dsm/dsm.hpp"

namespace dsm_test {

// The outcome of a condition evaluated on every rank.
struct combined {
  bool all = true;            // true on every rank
  bool here = true;           // true on this rank
  std::string failing_ranks;  // "1, 3": the ranks where it was false
};

// Collective: gathers `ok` from every rank of MPI_COMM_WORLD.
inline combined combine(bool ok) {
  int size = 1;
  MPI_Comm_size(MPI_COMM_WORLD, &size);
  const int mine = ok ? 1 : 0;
  std::vector<int> every(static_cast<std::size_t>(size), 0);
  MPI_Allgather(&mine, 1, MPI_INT, every.data(), 1, MPI_INT, MPI_COMM_WORLD);
  combined c;
  c.here = ok;
  for (int r = 0; r < size; ++r) {
    if (every[static_cast<std::size_t>(r)] != 0) continue;
    c.all = false;
    if (!c.failing_ranks.empty()) c.failing_ranks += ", ";
    c.failing_ranks += std::to_string(r);
  }
  return c;
}

// Collective: true iff `ok` is true on every rank (MPI_LAND over MPI_COMM_WORLD).
inline bool all_ranks(bool ok) {
  int in = ok ? 1 : 0;
  int out = 0;
  MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LAND, MPI_COMM_WORLD);
  return out != 0;
}

// Collective: true iff `ok` is true on at least one rank.
inline bool any_rank(bool ok) {
  int in = ok ? 1 : 0;
  int out = 0;
  MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_LOR, MPI_COMM_WORLD);
  return out != 0;
}

// Collective sums of per-rank counts (the test's own bookkeeping, outside the global space).
inline std::uint64_t sum_over_ranks(std::uint64_t v) {
  std::uint64_t out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  return out;
}

// Collective: every rank's protocol bytes and messages sent so far, summed. An operation that has
// returned on one rank may still have an engine finishing its last answer on another, so the ranks
// let the engines settle first.
struct traffic {
  std::uint64_t bytes;
  std::uint64_t messages;
};
inline traffic traffic_now() {
  MPI_Barrier(MPI_COMM_WORLD);
  std::this_thread::sleep_for(std::chrono::milliseconds(20));
  MPI_Barrier(MPI_COMM_WORLD);
  const dsm::statistics s = dsm::stats();
  return {sum_over_ranks(s.bytes_sent), sum_over_ranks(s.messages_sent)};
}

// The message of the dsm::error that fn() throws, or "" if it throws none. Not collective.
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const dsm::error& e) {
    return e.what();
  }
  return "";
}

inline std::string describe(const combined& c, const char* expression) {
  std::string s = "`";
  s += expression;
  s += "` is false on rank(s) ";
  s += c.failing_ranks;
  s += c.here ? " (true on rank " : " (false on this rank, rank ";
  s += std::to_string(dsm::rank());
  s += ")";
  if (c.here) s += "; this rank's own message follows";
  s += ". ";
  return s;
}

// A fixture whose set-up and tear-down end in a dsm::barrier(), so that no test's accesses overlap
// with the previous or the next test on another rank.
class collective : public ::testing::Test {
 protected:
  void SetUp() override { dsm::barrier(); }
  void TearDown() override { dsm::barrier(); }
};

}  // namespace dsm_test

// The if/else shape (as in GoogleTest's own macros) lets the caller stream a message:
//   DSM_EXPECT_ALL(v == 3) << "v=" << v;
// The switch guards against a dangling else when the macro is the body of an unbraced if.
#define DSM_TEST_COMBINED_(cond, on_failure)                                                   \
  switch (0)                                                                                   \
  case 0:                                                                                      \
  default:                                                                                     \
    if (const ::dsm_test::combined dsm_test_c_ = ::dsm_test::combine(static_cast<bool>(cond)); \
        dsm_test_c_.all)                                                                       \
      ;                                                                                        \
    else                                                                                       \
      on_failure << ::dsm_test::describe(dsm_test_c_, #cond)

// Collective EXPECT: a non-fatal failure is recorded on every rank when `cond` is false on any rank.
#define DSM_EXPECT_ALL(cond) DSM_TEST_COMBINED_(cond, ADD_FAILURE())
// Collective ASSERT: when `cond` is false on any rank, every rank records the failure and returns
// from the current function together.
#define DSM_ASSERT_ALL(cond) DSM_TEST_COMBINED_(cond, GTEST_FAIL())

#endif  // DSM_TESTS_SUPPORT_MPI_TEST_HPP_
