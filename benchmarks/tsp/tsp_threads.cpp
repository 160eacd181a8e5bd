// tsp_threads.cpp: TSP branch and bound with std::thread in one process, the shared-memory limit:
// the same shared work queue (a task counter) and best tour under one std::mutex as the dsm version.
//   bench_tsp_threads --size full --threads 2
#include <mutex>
#include <thread>

#include "tsp.hpp"

int main(int argc, char** argv) {
  const bench::args args(argc, argv, {"n"});
  const tsp::problem p = tsp::make(tsp::pick(args));
  const int threads = args.threads();

  std::mutex queue_lock;  // guards next_task and best
  int next_task = 0;
  tsp::tour best = tsp::nearest_neighbour(p);

  const double start = bench::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (;;) {
        int task = 0, bound = 0;
        {
          std::lock_guard g(queue_lock);
          task = next_task++;
          bound = best.length;
        }
        if (task >= p.tasks()) break;
        tsp::search_task(p, task, [&] { return bound; }, [&](const tsp::tour& found) {
          std::lock_guard g(queue_lock);
          if (found.length < best.length) best = found;
          bound = best.length;
        });
      }
    });
  }
  for (auto& th : pool) th.join();
  const double seconds = bench::now() - start;

  bench::result r{"tsp", "threads", threads, "", args.size(), seconds};
  std::string why;
  r.check = tsp::verify(p, best, r.verified, why);
  return bench::report(r, why);
}
