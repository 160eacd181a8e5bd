// kill: the two-process program of the sequential-consistency textbooks (after Lamport 1979):
//
//   P0:  a = 1;  if (b == 0) kill(P1);
//   P1:  b = 1;  if (a == 0) kill(P0);
//
// Under sequential consistency at most one process is killed: whichever write comes first in the
// one global order, the other process reads it. Under release consistency the program is racy, and
// both processes may read the other's flag as 0 from a stale copy, so that both are killed. The
// program runs the pair many rounds (a and b each on its own unit; every rank reads both before a
// round, so copies exist), and prints how often each outcome occurred. Ranks beyond two only read.
//   mpirun -np 2 ./kill [rounds]
// Checks (FAIL, exit 1) that "both killed" never occurs under sequential; under the release models
// it only reports.
#include <dsm/dsm.hpp>

#include <atomic>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {
long load(long* v) { return std::atomic_ref<long>(*v).load(std::memory_order_seq_cst); }
void store(long* v, long x) { std::atomic_ref<long>(*v).store(x, std::memory_order_seq_cst); }
}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const long rounds = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 2000;
  const int me = dsm::rank(), n = dsm::ranks();
  if (n < 2) {
    std::printf("kill: needs 2 ranks, skipped: OK\n");
    return 0;
  }
  const std::size_t unit = dsm::unit_size();
  auto* flags = dsm::alloc<std::byte>(2 * unit);  // a and b on units of their own
  long* a = reinterpret_cast<long*>(flags);
  long* b = reinterpret_cast<long*>(flags + unit);
  std::vector<char> killed_other(static_cast<std::size_t>(rounds), 0);  // this rank's verdicts

  volatile long sink = 0;
  for (long r = 0; r < rounds; ++r) {
    if (me == 0) {
      store(a, 0);
      store(b, 0);
    }
    dsm::barrier();
    sink = sink + load(a) + load(b);  // warm-up: every rank holds a copy of both
    dsm::barrier();
    if (me == 0) {
      store(a, 1);
      killed_other[static_cast<std::size_t>(r)] = load(b) == 0;  // P0 kills P1
    } else if (me == 1) {
      store(b, 1);
      killed_other[static_cast<std::size_t>(r)] = load(a) == 0;  // P1 kills P0
    }
    dsm::barrier();
  }

  // The verdicts through the DSM itself: each rank writes its own slice, a barrier, rank 0 reads.
  char* verdicts = dsm::alloc<char>(2 * static_cast<std::size_t>(rounds));
  if (me < 2)
    for (long r = 0; r < rounds; ++r) verdicts[me * rounds + r] = killed_other[static_cast<std::size_t>(r)];
  dsm::barrier();
  long none = 0, only_p1 = 0, only_p0 = 0, both = 0;
  for (long r = 0; r < rounds; ++r) {
    const bool p1_killed = verdicts[r], p0_killed = verdicts[rounds + r];
    if (p1_killed && p0_killed) ++both;
    else if (p1_killed) ++only_p1;
    else if (p0_killed) ++only_p0;
    else ++none;
  }
  const bool sequential = dsm::current_model() == dsm::model::sequential;
  const bool ok = !sequential || both == 0;
  if (me == 0) {
    std::printf("kill: %s, %ld rounds: neither killed %ld, only P1 killed %ld, only P0 killed %ld, both killed %ld%s: %s\n",
                dsm::model_name(dsm::current_model()), rounds, none, only_p1, only_p0, both,
                sequential ? " (sequential: must be 0)" : " (allowed: the program is racy)", ok ? "OK" : "FAIL");
  }
  dsm::barrier();
  dsm::free(verdicts);
  dsm::free(flags);
  return ok ? 0 : 1;
}
