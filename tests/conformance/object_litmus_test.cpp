// object_litmus_test.cpp: the lock-protected litmus programs of litmus.json at object granularity,
// under every model. Each variable is an object (dsm::make_object<long>), and each critical section
// "lock L; ...; unlock L" of the program becomes handles opened on the variables L guards (in lock-id
// order) for the length of the section: the object's own lock replaces L. The programs are
// data-race free, so every model must show only their sequentially consistent outcomes.
//
// Each round: rank 0 resets every variable; every rank reads every variable (so stale copies
// exist); the program runs; the registers are gathered over MPI and judged. Rounds: 300, or
// DSM_LITMUS_ROUNDS.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <string>
#include <vector>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;
using var = dsm::object<long>;

int rounds() {
  if (const char* r = std::getenv("DSM_LITMUS_ROUNDS")) return std::max(1, std::atoi(r));
  return 300;
}

void reset_and_warm(const std::vector<var>& vars) {
  if (dsm::rank() == 0)
    for (const var& v : vars) *v.write() = 0;
  dsm::barrier();
  for (const var& v : vars) (void)*v.read();
  dsm::barrier();
}

// Runs `body(round)` for every round; body returns this rank's two registers (-1: none). Then
// `judge(all)` gets every round's registers of every rank, all[round][rank] = {r0, r1}, and returns
// the outcome string of the round, or "" if this round's outcome is not one the program reports.
// Every outcome in `forbidden` must not appear.
template <class Body, class Judge>
void run(const char* id, const std::vector<var>& vars, Body body, Judge judge, const std::vector<std::string>& forbidden) {
  const int n = rounds();
  std::vector<long> mine;
  for (int round = 0; round < n; ++round) {
    reset_and_warm(vars);
    const auto [r0, r1] = body(round);
    mine.push_back(r0);
    mine.push_back(r1);
    dsm::barrier();
  }
  const auto ranks = static_cast<std::size_t>(dsm::ranks());
  std::vector<long> flat(mine.size() * ranks);
  MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_LONG, flat.data(), static_cast<int>(mine.size()), MPI_LONG,
                MPI_COMM_WORLD);
  std::map<std::string, long> histogram;
  for (int round = 0; round < n; ++round) {
    std::vector<std::pair<long, long>> regs(ranks);
    for (std::size_t r = 0; r < ranks; ++r) {
      const std::size_t at = r * mine.size() + static_cast<std::size_t>(round) * 2;
      regs[r] = {flat[at], flat[at + 1]};
    }
    const std::string o = judge(regs);
    if (!o.empty()) ++histogram[o];
  }
  std::string text;
  long bad = 0;
  for (const auto& [o, count] : histogram) {
    const bool is_forbidden = std::find(forbidden.begin(), forbidden.end(), o) != forbidden.end();
    bad += is_forbidden ? count : 0;
    text += " " + o + "=" + std::to_string(count) + (is_forbidden ? "[forbidden]" : "");
  }
  if (dsm::rank() == 0) {
    std::printf("[object litmus %s] model %s, %d ranks, %d rounds:%s\n", id, dsm::model_name(dsm::current_model()),
                dsm::ranks(), n, text.c_str());
    std::fflush(stdout);
  }
  EXPECT_FALSE(histogram.empty()) << "no outcome was recorded";
  EXPECT_EQ(bad, 0) << id << " under " << dsm::model_name(dsm::current_model()) << ":" << text;
}

std::string tuple(std::initializer_list<long> v) {
  std::string s = "(";
  for (long x : v) s += (s.size() > 1 ? "," : "") + std::to_string(x);
  return s + ")";
}

// Both variables under one lock: write handles on both, in lock-id order.
template <class Fn>
void with_both_written(const var& a, const var& b, Fn fn) {
  const bool a_first = a.lock_id() < b.lock_id();
  auto h1 = (a_first ? a : b).write();
  auto h2 = (a_first ? b : a).write();
  fn(a_first ? *h1 : *h2, a_first ? *h2 : *h1);
}
template <class Fn>
void with_both_read(const var& a, const var& b, Fn fn) {
  const bool a_first = a.lock_id() < b.lock_id();
  auto h1 = (a_first ? a : b).read();
  auto h2 = (a_first ? b : a).read();
  fn(a_first ? *h1 : *h2, a_first ? *h2 : *h1);
}

// MP+lock: P0: lock L; data = 1; flag = 1; unlock L.  Readers: lock L; r0 = flag; r1 = data; unlock L.
TEST_F(collective, MP_lock) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "a litmus test needs two ranks";
  std::vector<var> vars{dsm::make_object<long>(0L), dsm::make_object<long>(0L)};
  const var& data = vars[0];
  const var& flag = vars[1];
  run(
      "MP+lock", vars,
      [&](int) {
        std::pair<long, long> got{-1, -1};
        if (dsm::rank() == 0) {
          with_both_written(data, flag, [](long& d, long& f) {
            d = 1;
            f = 1;
          });
        } else {
          with_both_read(flag, data, [&](const long& f, const long& d) { got = {f, d}; });
        }
        return got;
      },
      [](const std::vector<std::pair<long, long>>& regs) { return tuple({regs[1].first, regs[1].second}); },
      {tuple({1, 0}), tuple({0, 1})});
  for (auto& v : vars) dsm::destroy(v);
}

// SB+locks: P0: lock Lx; x = 1; unlock Lx; lock Ly; r0 = y; unlock Ly.  P1 the mirror image.
TEST_F(collective, SB_locks) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "a litmus test needs two ranks";
  std::vector<var> vars{dsm::make_object<long>(0L), dsm::make_object<long>(0L)};
  const var& x = vars[0];
  const var& y = vars[1];
  run(
      "SB+locks", vars,
      [&](int) {
        std::pair<long, long> got{-1, -1};
        if (dsm::rank() == 0) {
          *x.write() = 1;
          got.first = *y.read();
        } else if (dsm::rank() == 1) {
          *y.write() = 1;
          got.first = *x.read();
        }
        return got;
      },
      [](const std::vector<std::pair<long, long>>& regs) { return tuple({regs[0].first, regs[1].first}); },
      {tuple({0, 0})});
  for (auto& v : vars) dsm::destroy(v);
}

// 2+2W+lock: P0: lock L; x = 1; y = 2; unlock L.  P1: lock L; y = 1; x = 2; unlock L.
// The final (x, y) is (1,2) or (2,1), never a mix.
TEST_F(collective, W2p2_lock) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "a litmus test needs two ranks";
  std::vector<var> vars{dsm::make_object<long>(0L), dsm::make_object<long>(0L)};
  const var& x = vars[0];
  const var& y = vars[1];
  run(
      "2+2W+lock", vars,
      [&](int) {
        std::pair<long, long> got{-1, -1};
        if (dsm::rank() == 0) {
          with_both_written(x, y, [](long& a, long& b) {
            a = 1;
            b = 2;
          });
        } else if (dsm::rank() == 1) {
          with_both_written(x, y, [](long& a, long& b) {
            b = 1;
            a = 2;
          });
        }
        dsm::barrier();
        if (dsm::rank() == 0) with_both_read(x, y, [&](const long& a, const long& b) { got = {a, b}; });
        return got;
      },
      [](const std::vector<std::pair<long, long>>& regs) { return tuple({regs[0].first, regs[0].second}); },
      {tuple({1, 1}), tuple({2, 2}), tuple({0, 0}), tuple({1, 0}), tuple({0, 1}), tuple({2, 0}), tuple({0, 2})});
  for (auto& v : vars) dsm::destroy(v);
}

// IRIW+locks: P0: lock Lx; x = 1.  P2: lock Ly; y = 1.  P1: lock Lx; r0 = x; lock Ly; r1 = y.
// P3: lock Ly; r0 = y; lock Lx; r1 = x.  (1:r0, 1:r1, 3:r0, 3:r1) = (1,0,1,0) is forbidden.
TEST_F(collective, IRIW_locks) {
  if (dsm::ranks() < 4) GTEST_SKIP() << "IRIW needs four ranks";
  std::vector<var> vars{dsm::make_object<long>(0L), dsm::make_object<long>(0L)};
  const var& x = vars[0];
  const var& y = vars[1];
  run(
      "IRIW+locks", vars,
      [&](int) {
        std::pair<long, long> got{-1, -1};
        switch (dsm::rank()) {
          case 0: *x.write() = 1; break;
          case 2: *y.write() = 1; break;
          case 1:
            got.first = *x.read();
            got.second = *y.read();
            break;
          case 3:
            got.first = *y.read();
            got.second = *x.read();
            break;
          default: break;
        }
        return got;
      },
      [](const std::vector<std::pair<long, long>>& regs) {
        return tuple({regs[1].first, regs[1].second, regs[3].first, regs[3].second});
      },
      {tuple({1, 0, 1, 0})});
  for (auto& v : vars) dsm::destroy(v);
}

}  // namespace
