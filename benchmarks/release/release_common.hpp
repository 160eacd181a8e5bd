// release_common.hpp: what lock_pingpong and migratory share. Words and records placed at the start
// of their own coherence unit, a barrier-fenced timed repetition whose protocol traffic is read
// from dsm::stats() on every rank and summed with MPI_Allreduce, the median of the repetitions, and
// the one-line result both programs print.
#ifndef DSM_BENCHMARKS_RELEASE_COMMON_HPP_
#define DSM_BENCHMARKS_RELEASE_COMMON_HPP_

#include <mpi.h>
#include <sched.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <dsm/dsm.hpp>
#include <vector>

#include "../common/traffic.hpp"

namespace bench {

// `count` unit-aligned slots of `units_each` units, inside one collective allocation.
inline std::vector<char*> unit_slots(int count, std::size_t units_each = 1) {
  const std::size_t unit = dsm::unit_size();
  char* block = dsm::alloc<char>((static_cast<std::size_t>(count) * units_each + 1) * unit);
  std::uintptr_t at = reinterpret_cast<std::uintptr_t>(block);
  at = (at + unit - 1) / unit * unit;
  std::vector<char*> slots;
  for (int i = 0; i < count; ++i) {
    slots.push_back(reinterpret_cast<char*>(at + static_cast<std::uintptr_t>(i) * units_each * unit));
  }
  return slots;
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// One repetition's cost: the slowest rank's time, and messages, bytes and lock acquires (all, and
// those granted by another rank) summed over the ranks. The counters are read before the closing
// barrier, so barrier traffic is not counted.
struct sample {
  double us = 0.0;
  double msgs = 0.0;
  double bytes = 0.0;
  double acquires = 0.0;
  double remote_acquires = 0.0;
};

template <class Body>
sample timed_rep(Body&& body) {
  dsm::barrier();
  const dsm::statistics s0 = dsm::stats();
  const auto t0 = std::chrono::steady_clock::now();
  body();
  const double us = std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - t0).count();
  const bench::traffic t = bench::summed_traffic(s0, dsm::stats(), MPI_COMM_WORLD);
  sample out;
  MPI_Allreduce(&us, &out.us, 1, MPI_DOUBLE, MPI_MAX, MPI_COMM_WORLD);
  out.msgs = t.msgs;
  out.bytes = t.bytes;
  out.acquires = t.acquires;
  out.remote_acquires = t.remote_acquires;
  dsm::barrier();
  return out;
}

// Per critical section: the median time over the repetitions; messages, bytes and acquires over all
// of them. Printed by rank 0 as one line: `<name> model=.. ranks=.. <extra> us_per_cs=.. ..`.
inline void report(const char* name, const char* extra, long cs_per_rep, const std::vector<sample>& reps,
                   bool ok) {
  if (dsm::rank() != 0) return;
  std::vector<double> times;
  double msgs = 0, bytes = 0, acq = 0, racq = 0;
  for (const sample& s : reps) {
    times.push_back(s.us);
    msgs += s.msgs;
    bytes += s.bytes;
    acq += s.acquires;
    racq += s.remote_acquires;
  }
  const double cs = static_cast<double>(cs_per_rep) * static_cast<double>(reps.size());
  std::printf(
      "%s model=%s ranks=%d %s reps=%zu us_per_cs=%.2f "
      "msgs_per_cs=%.2f bytes_per_cs=%.1f "
      "acq_per_cs=%.2f remote_acq_per_cs=%.2f check=%s\n",
      name, dsm::model_name(dsm::current_model()), dsm::ranks(), extra, reps.size(),
      median(times) / static_cast<double>(cs_per_rep), msgs / cs, bytes / cs, acq / cs, racq / cs,
      ok ? "OK" : "FAIL");
  std::fflush(stdout);
}

// Every rank's verdict, combined: true only if all ranks found what they expected.
inline bool all_ok(bool mine) {
  int in = mine ? 1 : 0, out = 0;
  MPI_Allreduce(&in, &out, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  return out == 1;
}

// After an acquire that found it was not this rank's turn: let the holder-to-be run (2 cores are
// shared by the ranks and their runtime threads).
inline void not_my_turn() { sched_yield(); }

// Strict alternation under lock m: turn t belongs to rank t % n. Until *turn reaches `end`, each
// rank takes the lock; on its turn it runs body(t) inside the critical section and passes the turn
// on (*turn = t + 1); otherwise it releases at once and yields.
template <class Body>
void take_turns(dsm::mutex& m, long* turn, long end, int me, int n, Body&& body) {
  for (;;) {
    m.lock();
    const long s = *turn;
    if (s >= end) {
      m.unlock();
      return;
    }
    if (s % n == me) {
      body(s);
      *turn = s + 1;
      m.unlock();
    } else {
      m.unlock();
      not_my_turn();
    }
  }
}

inline long arg_or(int argc, char** argv, int i, long fallback) {
  return argc > i ? std::strtol(argv[i], nullptr, 10) : fallback;
}

}  // namespace bench

#endif  // DSM_BENCHMARKS_RELEASE_COMMON_HPP_
