// tsp_dsm.cpp: TSP branch and bound over a lock-protected work queue in dsm shared memory, as in
// the TreadMarks TSP. One shared record holds the next task number and the best tour; one dsm::mutex
// guards it. A rank takes a task and reads the current bound in the same critical section, searches
// the task in private memory, and publishes a shorter tour under the lock. The record is bound to the
// lock, so the entry model moves it with the lock. Rank 0 checks the result against the sequential
// search (tsp.hpp), untimed.
//   mpirun -np 2 bench_tsp_dsm --size full        (DSM_MODEL picks the model)
#include <dsm/dsm.hpp>

#include <mutex>

#include "tsp.hpp"

namespace {
struct work_queue {
  int next_task;
  tsp::tour best;
};
}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const bench::args args(argc, argv, {"n"});
  const tsp::problem p = tsp::make(tsp::pick(args));
  const int me = dsm::rank(), ranks = dsm::ranks();

  work_queue* queue = dsm::alloc<work_queue>(1);
  dsm::mutex queue_lock{1};
  if (me == 0) queue->best = tsp::nearest_neighbour(p);
  // Collective: the queue is the data of queue_lock (what the entry model moves with the lock; the
  // other models check the binding and ignore it). Binding runs a barrier first.
  queue_lock.bind(queue, sizeof *queue);
  dsm::barrier();

  const double start = bench::now();
  for (;;) {
    int task = 0, bound = 0;
    {
      std::lock_guard g(queue_lock);
      task = queue->next_task++;
      bound = queue->best.length;
    }
    if (task >= p.tasks()) break;
    tsp::search_task(p, task, [&] { return bound; }, [&](const tsp::tour& found) {
      std::lock_guard g(queue_lock);
      if (found.length < queue->best.length) queue->best = found;
      bound = queue->best.length;
    });
  }
  dsm::barrier();
  const double seconds = bench::now() - start;

  int status = 0;
  if (me == 0) {
    bench::result r{"tsp", "dsm", ranks, dsm::model_name(dsm::current_model()), args.size(), seconds};
    std::string why;
    tsp::tour best;
    {
      std::lock_guard g(queue_lock);  // bound data: read under its lock
      best = queue->best;
    }
    r.check = tsp::verify(p, best, r.verified, why);
    status = bench::report(r, why);
  }
  dsm::barrier();
  dsm::free(queue);
  return status;
}
