// lock_pingpong: the cost of one critical section when a dsm::mutex and the data it protects bounce
// between ranks in strict alternation. Two shared words, each at the start of its own unit: `turn`
// (how many critical sections have run) and `counter`. Rank r repeatedly acquires the lock, reads
// `turn`; when turn % ranks == r it checks counter == turn, increments both and releases, otherwise
// it only releases and yields the CPU (acq_per_cs counts those empty acquires too; at 2 ranks there
// are almost none: the lock is granted in FIFO order). So every critical section moves the lock and
// both units (or their diffs) from one rank to the other. Printed per critical section: the median
// over `reps` timed repetitions (after one warm-up) of the slowest rank's time, and messages, bytes
// and lock acquires from dsm::stats() summed over all ranks and repetitions. check=OK when every
// critical section saw counter == turn and the final values equal the number of critical sections
// run; exit 1 otherwise.
// Usage: mpirun -np 2 ./lock_pingpong [iters=2000 critical sections per repetition] [reps=5]
#include <cstdio>
#include <string>

#include "release_common.hpp"

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const long iters = bench::arg_or(argc, argv, 1, 2000);
  const long nreps = bench::arg_or(argc, argv, 2, 5);
  const int me = dsm::rank(), n = dsm::ranks();

  const std::vector<char*> slots = bench::unit_slots(2);
  long* turn = reinterpret_cast<long*>(slots[0]);
  long* counter = reinterpret_cast<long*>(slots[1]);
  dsm::mutex m{1};
  m.bind(turn, sizeof *turn);  // entry consistency: both travel with the lock
  m.bind(counter, sizeof *counter);

  long seen_wrong = 0;
  long end = 0;
  auto one_rep = [&] {
    end += iters;
    bench::take_turns(m, turn, end, me, n, [&](long s) {
      if (*counter != s) ++seen_wrong;
      *counter = s + 1;
    });
  };

  bench::timed_rep(one_rep);  // warm-up: first touches, lock manager state
  std::vector<bench::sample> reps;
  for (long r = 0; r < nreps; ++r) reps.push_back(bench::timed_rep(one_rep));

  m.lock();
  const bool final_ok = *turn == end && *counter == end;
  m.unlock();
  if (seen_wrong != 0 || !final_ok) {
    std::fprintf(stderr,
                 "lock_pingpong: rank %d: %ld critical sections saw counter != "
                 "turn; final turn=%ld "
                 "counter=%ld, expected %ld\n",
                 me, seen_wrong, *turn, *counter, end);
  }
  const bool ok = bench::all_ok(seen_wrong == 0 && final_ok);
  const std::string extra = "iters=" + std::to_string(iters);
  bench::report("lock_pingpong", extra.c_str(), iters, reps, ok);
  return ok ? 0 : 1;
}
