// mpi_interop.cpp: dsm lives beside a program's own MPI. The program initialises MPI itself with
// MPI_THREAD_MULTIPLE, then dsm::init; it uses MPI_COMM_WORLD (MPI_Allreduce, a point-to-point ring)
// interleaved with dsm shared memory, locks and barriers, and a second thread does point-to-point
// traffic on a duplicate communicator while the main thread takes dsm locks. dsm::finalize must leave
// MPI initialised (the program, not dsm, initialised it), so MPI still works after it; the program
// then calls MPI_Finalize itself. Exit status 0 iff every check held on every rank. Not gtest-based:
// GoogleTest's main would not let the program own MPI_Init.
#include <mpi.h>

#include <cstdio>
#include <mutex>
#include <thread>

#include "dsm/dsm.hpp"

namespace {

int failures = 0;

void check(bool ok, const char* what) {
  if (ok) return;
  ++failures;
  int rank = -1;
  MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  std::fprintf(stderr, "mpi_interop: rank %d: check failed: %s\n", rank, what);
}

// Sends rounds of tokens around a ring of `comm`; each rank checks what it receives.
void ring(MPI_Comm comm, int rounds, int tag) {
  int rank = 0;
  int size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  for (int i = 0; i < rounds; ++i) {
    const long out = 1000L * i + rank;
    long in = -1;
    MPI_Sendrecv(&out, 1, MPI_LONG, (rank + 1) % size, tag, &in, 1, MPI_LONG, (rank + size - 1) % size, tag,
                 comm, MPI_STATUS_IGNORE);
    check(in == 1000L * i + (rank + size - 1) % size, "ring token from the left neighbour");
  }
}

}  // namespace

int main(int argc, char** argv) {
  int provided = MPI_THREAD_SINGLE;
  MPI_Init_thread(&argc, &argv, MPI_THREAD_MULTIPLE, &provided);
  if (provided < MPI_THREAD_MULTIPLE) {
    std::fprintf(stderr, "mpi_interop: MPI_THREAD_MULTIPLE not provided (%d)\n", provided);
    MPI_Abort(MPI_COMM_WORLD, 3);
  }
  int world_rank = 0;
  int world_size = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &world_rank);
  MPI_Comm_size(MPI_COMM_WORLD, &world_size);

  dsm::init(&argc, &argv);
  check(dsm::initialized(), "dsm::initialized() after init");
  check(dsm::rank() == world_rank && dsm::ranks() == world_size, "dsm rank and size match MPI_COMM_WORLD");

  // MPI beside dsm: a reduction and a ring on the program's own communicator.
  int rank_sum = 0;
  MPI_Allreduce(&world_rank, &rank_sum, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  check(rank_sum == world_size * (world_size - 1) / 2, "MPI_Allreduce of the ranks after dsm::init");
  ring(MPI_COMM_WORLD, 20, 7);

  // Shared memory: each rank writes its slot; after a barrier every rank sums all slots and the sums
  // are compared over MPI.
  const std::size_t stride = dsm::unit_size() / sizeof(long);
  long* slots = dsm::alloc<long>(stride * static_cast<std::size_t>(world_size));
  slots[stride * static_cast<std::size_t>(world_rank)] = 10 + world_rank;
  dsm::barrier();
  long shared_sum = 0;
  for (int r = 0; r < world_size; ++r) shared_sum += slots[stride * static_cast<std::size_t>(r)];
  long max_sum = 0;
  long min_sum = 0;
  MPI_Allreduce(&shared_sum, &max_sum, 1, MPI_LONG, MPI_MAX, MPI_COMM_WORLD);
  MPI_Allreduce(&shared_sum, &min_sum, 1, MPI_LONG, MPI_MIN, MPI_COMM_WORLD);
  check(shared_sum == 10L * world_size + rank_sum, "sum of the shared slots");
  check(max_sum == min_sum, "every rank read the same shared sum");

  // A second thread does point-to-point on its own communicator while this thread takes dsm locks.
  MPI_Comm side = MPI_COMM_NULL;
  MPI_Comm_dup(MPI_COMM_WORLD, &side);
  long* counter = dsm::alloc<long>(1);
  std::thread other([side] { ring(side, 200, 11); });
  dsm::mutex m{3};
  m.bind(counter, sizeof *counter);
  for (int i = 0; i < 50; ++i) {
    std::lock_guard guard(m);
    ++*counter;
  }
  other.join();
  dsm::barrier();
  m.lock_shared();  // bound data is read under its lock (entry consistency)
  const long total = *counter;
  m.unlock_shared();
  check(total == 50L * world_size, "lock-protected counter while another thread used MPI");
  dsm::barrier();
  dsm::free(counter);
  dsm::free(slots);
  MPI_Comm_free(&side);

  dsm::finalize();
  int still_initialized = 0;
  int finalized = 1;
  MPI_Initialized(&still_initialized);
  MPI_Finalized(&finalized);
  check(still_initialized == 1 && finalized == 0, "MPI still initialised after dsm::finalize");
  check(!dsm::initialized(), "dsm::initialized() false after finalize");
  int after = 0;
  const int one = 1;
  MPI_Allreduce(&one, &after, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);  // MPI still usable
  check(after == world_size, "MPI_Allreduce after dsm::finalize");
  ring(MPI_COMM_WORLD, 5, 9);
  const int mine = failures != 0 ? 1 : 0;
  int failed_ranks = 0;
  MPI_Allreduce(&mine, &failed_ranks, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);

  MPI_Finalize();
  if (world_rank == 0) {
    if (failed_ranks == 0)
      std::printf("mpi_interop: OK on %d rank(s)\n", world_size);
    else
      std::fprintf(stderr, "mpi_interop: checks failed on %d rank(s)\n", failed_ranks);
  }
  return failed_ranks == 0 ? 0 : 1;
}
