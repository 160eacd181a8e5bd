// histogram: a shared histogram filled with atomics. Every rank draws numbers from its own
// generator and adds 1 to the bin each falls in with dsm::atomic_ref<long>::fetch_add, with no lock
// of its own; after a barrier every rank reads the bins and checks that each holds exactly what all
// ranks added to it (each rank knows its own share; MPI adds them up). The bins are bound to a lock
// because entry consistency moves data only with a lock; under the other models the binding only
// picks the lock the atomics take.
// Run it with `mpirun -np 4 ./histogram [draws-per-rank] [bins]`.
#include <dsm/dsm.hpp>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <mpi.h>

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const long draws = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 2000;
  const int bins = argc > 2 ? std::atoi(argv[2]) : 32;
  const int n = dsm::ranks(), me = dsm::rank();

  long* hist = dsm::alloc<long>(static_cast<std::size_t>(bins));  // collective, zero-filled
  dsm::mutex{5}.bind(hist, static_cast<std::size_t>(bins) * sizeof(long));

  std::vector<long> mine(static_cast<std::size_t>(bins), 0);
  std::uint64_t x = 88172645463325252ULL ^ static_cast<std::uint64_t>(me + 1);
  for (long i = 0; i < draws; ++i) {
    x ^= x << 13, x ^= x >> 7, x ^= x << 17;  // xorshift
    const int b = static_cast<int>(x % static_cast<std::uint64_t>(bins));
    dsm::atomic_ref<long>(hist[b]).fetch_add(1);
    ++mine[static_cast<std::size_t>(b)];
  }
  dsm::barrier();
  std::vector<long> expected(static_cast<std::size_t>(bins));
  MPI_Allreduce(mine.data(), expected.data(), bins, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  int wrong = 0;
  for (int b = 0; b < bins; ++b) wrong += dsm::atomic_ref<long>(hist[b]).load() != expected[static_cast<std::size_t>(b)];
  int all_wrong = 0;
  MPI_Allreduce(&wrong, &all_wrong, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (me == 0)
    std::printf("histogram: %d ranks, %ld draws each into %d bins, every bin exact: %s\n", n, draws, bins,
                all_wrong == 0 ? "OK" : "FAIL");
  dsm::barrier();
  dsm::free(hist);
  return all_wrong == 0 ? 0 : 1;
}
