// jacobi_threads.cpp: Jacobi with std::thread in one process, the shared-memory limit: the same
// row blocks as the dsm version, two grids in ordinary memory, a std::barrier after every sweep.
//   bench_jacobi_threads --size full --threads 2
#include <barrier>
#include <thread>

#include "jacobi.hpp"

int main(int argc, char** argv) {
  const bench::args args(argc, argv, {"n", "iters"});
  const auto [n, iters] = jacobi::pick(args);
  const int threads = args.threads();

  std::vector<double> a(n * n), b(n * n);
  jacobi::init_rows(a.data(), n, 0, n);
  jacobi::init_rows(b.data(), n, 0, n);
  std::barrier sync(threads);

  const double start = bench::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const auto [first, last] = jacobi::rows(t, threads, n);
      for (int s = 0; s < iters; ++s) {
        const double* src = s % 2 == 0 ? a.data() : b.data();
        double* dst = s % 2 == 0 ? b.data() : a.data();
        for (std::size_t i = first; i < last; ++i) jacobi::relax_row(src, dst, n, i);
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& th : pool) th.join();
  const double seconds = bench::now() - start;

  const std::vector<double>& grid = iters % 2 == 0 ? a : b;
  bench::result r{"jacobi", "threads", threads, "", args.size(), seconds};
  std::string why;
  r.check = jacobi::verify(n, iters, [&](std::size_t i) { return grid.data() + i * n; }, r.verified, why);
  return bench::report(r, why);
}
