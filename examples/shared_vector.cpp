// shared_vector: a std::vector in shared memory, filled by one rank and read by all. The vector
// object is made with dsm::new_ and its elements come from dsm::allocator, both in rank 0's arena,
// so the pointers inside the vector mean the same on every rank. Rank 0 fills it (growing it many
// times: each growth frees the old elements' block) and publishes where it is; after a barrier every
// rank reads every element and checks it. Then each rank in turn appends to it, under the barrier's
// order, and at the end every rank checks the whole vector again; the last rank frees it.
// Run it with `mpirun -np 4 ./shared_vector [elements]`.
#include <dsm/dsm.hpp>

#include <cstdio>
#include <cstdlib>
#include <vector>

#include <mpi.h>

using shared_vector = std::vector<long, dsm::allocator<long>>;

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const long count = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 100000;
  const int n = dsm::ranks(), me = dsm::rank();

  shared_vector** where = dsm::alloc<shared_vector*>(1);  // collective: where to find the vector
  if (me == 0) {
    shared_vector* v = dsm::new_<shared_vector>();
    for (long i = 0; i < count; ++i) v->push_back(i * i % 1000003);
    *where = v;
  }
  dsm::barrier();
  shared_vector& v = **where;
  long wrong = 0;
  for (long i = 0; i < count; ++i) wrong += v[static_cast<std::size_t>(i)] != i * i % 1000003;
  dsm::barrier();
  // Each rank in turn appends ten numbers of its own: the vector may move to that rank's arena.
  for (int turn = 0; turn < n; ++turn) {
    if (turn == me)
      for (long i = 0; i < 10; ++i) v.push_back(-(me * 10 + i) - 1);
    dsm::barrier();
  }
  long wrong_tail = 0;
  for (long k = 0; k < 10L * n; ++k) wrong_tail += v[static_cast<std::size_t>(count + k)] != -k - 1;
  const bool mine_ok = wrong == 0 && wrong_tail == 0 && v.size() == static_cast<std::size_t>(count + 10L * n);
  int ok = mine_ok, all_ok = 0;
  MPI_Allreduce(&ok, &all_ok, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD);
  if (me == 0)
    std::printf("shared_vector: %d ranks read %ld elements made by rank 0 and %ld appended in turn: %s\n", n, count,
                10L * n, all_ok ? "OK" : "FAIL");
  dsm::barrier();
  if (me == n - 1) dsm::delete_(*where);  // frees blocks of other ranks' arenas too
  dsm::barrier();
  dsm::free(where);
  return all_ok ? 0 : 1;
}
