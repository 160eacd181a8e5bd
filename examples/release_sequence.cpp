// release_sequence: the classic release-consistency figure, run step by step on three ranks.
//
//   P1 (rank 0):  acquire(L)  x = 1  release(L)
//   P2 (rank 1):                                  acquire(L)  r2 = x  release(L)
//   P3 (rank 2):                                  r3 = x                 (no acquire)
//
// Every rank first reads x, so P2 and P3 hold copies. The steps are ordered in real time by the
// program's own MPI_Barrier, which is not a dsm synchronisation: it orders the ranks but moves no
// write notice and no diff. So r2 shows what the lock guarantees (x = 1 under every model) and r3
// what a model does to a copy nobody acquired for: sequential invalidated it (P3 faults and fetches
// 1), eager release pushed the diff to it at P1's release (1), lazy release told P3 nothing (0,
// stale). Under entry consistency x is bound to L (mutex::bind), as that model requires of data a
// lock guards. Run it with DSM_TRACE=seq.json to see the messages of each step in Perfetto.
//   mpirun -np 3 ./release_sequence
// Checks r2 == 1 under every model and r3 == 1 under sequential; prints r3 under every model.
#include <dsm/dsm.hpp>
#include <mpi.h>

#include <cstddef>
#include <cstdio>
#include <mutex>

namespace {
int read(const int* p) { return *static_cast<const volatile int*>(p); }
}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const int me = dsm::rank(), n = dsm::ranks();
  const int p1 = 0, p2 = 1 % n, p3 = 2 % n;  // with fewer than 3 ranks, roles share a rank

  int* x = dsm::alloc<int>(1);
  dsm::mutex lock{1};
  if (dsm::current_model() == dsm::model::entry) lock.bind(x, sizeof(int));
  volatile int warm = read(x);  // every rank holds a copy of x
  (void)warm;
  dsm::barrier();

  if (me == p1) {
    std::lock_guard<dsm::mutex> g(lock);
    *static_cast<volatile int*>(x) = 1;
  }
  MPI_Barrier(MPI_COMM_WORLD);  // real-time order only: P1's release happened before what follows
  int r2 = -1, r3 = -1;
  if (me == p2) {
    std::lock_guard<dsm::mutex> g(lock);
    r2 = read(x);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (me == p3 && me != p1 && me != p2) r3 = read(x);  // no acquire (with fewer ranks, P3's role is unplayed)

  int seen[2] = {r2, r3}, all[2] = {0, 0};
  MPI_Allreduce(seen, all, 2, MPI_INT, MPI_MAX, MPI_COMM_WORLD);
  r2 = all[0];
  r3 = all[1];
  const bool sequential = dsm::current_model() == dsm::model::sequential;
  const bool ok = r2 == 1 && (!sequential || r3 == 1 || r3 == -1);
  if (me == 0) {
    std::printf("release_sequence: %s, %d ranks: P2 read x = %d after acquire(L); ", dsm::model_name(dsm::current_model()), n, r2);
    if (r3 >= 0) std::printf("P3 read x = %d without acquiring: %s: ", r3, r3 == 1 ? "up to date" : "stale");
    else std::printf("(no P3 with fewer than 3 ranks): ");
    std::printf("%s\n", ok ? "OK" : "FAIL");
  }
  dsm::barrier();
  dsm::free(x);
  return ok ? 0 : 1;
}
