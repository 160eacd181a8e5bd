// work_queue: a queue of tasks whose nodes are made by whichever rank produces them. In each round
// every rank makes tasks with dsm::new_ (no other rank takes part) and pushes them on a shared
// stack under a lock; after a barrier the ranks take tasks off until none is left, do them (here:
// add up their numbers) and free each with dsm::delete_, whichever rank made it. The sum of every
// task done must be exact, round after round, and the arenas give every node back. Under entry
// consistency the stack's head is bound to the lock and the nodes, bound to nothing, become visible
// at the barrier; so the program is correct under every model.
// Run it with `mpirun -np 4 ./work_queue [rounds] [tasks-per-rank]`.
#include <dsm/dsm.hpp>

#include <cstdio>
#include <cstdlib>
#include <mutex>

#include <mpi.h>

struct task {
  long number;
  task* next;  // a pointer into the global space: the same on every rank
};

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const long rounds = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 5;
  const long per_rank = argc > 2 ? std::strtol(argv[2], nullptr, 10) : 200;
  const int n = dsm::ranks(), me = dsm::rank();

  task** head = dsm::alloc<task*>(1);  // collective: the stack, empty
  dsm::mutex lock{3};
  lock.bind(head, sizeof *head);  // collective: the head travels with lock 3 (entry consistency)

  bool ok = true;
  for (long round = 0; round < rounds; ++round) {
    for (long i = 0; i < per_rank; ++i) {
      task* t = dsm::new_<task>(task{(round * n + me) * per_rank + i, nullptr});  // this rank alone
      std::lock_guard<dsm::mutex> g(lock);
      t->next = *head;
      *head = t;
    }
    dsm::barrier();  // every task is made and pushed
    long sum = 0, done = 0;
    for (;;) {
      task* t;
      {
        std::lock_guard<dsm::mutex> g(lock);
        t = *head;
        if (t != nullptr) *head = t->next;
      }
      if (t == nullptr) break;
      sum += t->number;
      ++done;
      dsm::delete_(t);  // often a node another rank made
    }
    long all_sum = 0, all_done = 0;
    MPI_Allreduce(&sum, &all_sum, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&done, &all_done, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
    const long count = n * per_rank, first = round * count;
    ok = ok && all_done == count && all_sum == count * first + count * (count - 1) / 2;
    dsm::barrier();
  }
  if (me == 0)
    std::printf("work_queue: %d ranks, %ld rounds of %ld tasks, every task done once: %s\n", n, rounds,
                n * per_rank, ok ? "OK" : "FAIL");
  dsm::free(head);
  return ok ? 0 : 1;
}
