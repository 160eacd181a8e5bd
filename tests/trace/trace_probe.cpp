// trace_probe: the small known program the trace and log tests run at 2 ranks. Rank 1 reads x under
// lock 1 (so that it holds a copy), rank 0 writes x = 42 under lock 1, rank 1 reads x under lock 1
// again and must see 42. The program's own MPI_Barrier orders the three critical sections, so that
// only the lock carries the write from rank 0 to rank 1. Under the entry model x is bound to lock 1
// (mutex::bind, once the API has it), as entry consistency requires. Exits non-zero if the value is
// wrong.
#include <mpi.h>

#include <cstdio>
#include <mutex>

#include "dsm/dsm.hpp"

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  int* x = dsm::alloc<int>(1);
  dsm::mutex lock{1};
  if (dsm::current_model() == dsm::model::entry) lock.bind(x, sizeof(int));
  int seen = -1;
  if (dsm::rank() == 1) {
    std::lock_guard g(lock);
    seen = *static_cast<volatile int*>(x);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (dsm::rank() == 0) {
    std::lock_guard g(lock);
    *static_cast<volatile int*>(x) = 42;
  }
  MPI_Barrier(MPI_COMM_WORLD);
  if (dsm::rank() == 1) {
    std::lock_guard g(lock);
    seen = *static_cast<volatile int*>(x);
  }
  dsm::barrier();
  const bool ok = dsm::ranks() < 2 || dsm::rank() != 1 || seen == 42;
  std::printf("trace_probe: rank %d saw %d: %s\n", dsm::rank(), seen, ok ? "OK" : "FAIL");
  dsm::free(x);
  return ok ? 0 : 1;
}
