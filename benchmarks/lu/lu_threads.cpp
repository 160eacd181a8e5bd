// lu_threads.cpp: blocked LU with std::thread in one process, the shared-memory limit: the same
// 2D scatter of blocks and three barriers per step as the dsm version, contiguous blocks (the
// layout makes no difference to the data movement here; --layout is accepted and ignored).
//   bench_lu_threads --size full --threads 2
#include <barrier>
#include <thread>

#include "lu.hpp"

int main(int argc, char** argv) {
  const bench::args args(argc, argv, {"n", "block", "layout"});
  const auto [n, b] = lu::pick(args);
  (void)lu::contiguous(args);  // validated, ignored
  const int threads = args.threads();

  std::vector<double> store(n * n);
  const lu::matrix m{store.data(), n, b, true};
  lu::fill(m, [](std::size_t, std::size_t) { return true; });
  std::barrier sync(threads);

  const double start = bench::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const auto mine = [&](std::size_t I, std::size_t J) { return lu::owner(I, J, threads) == t; };
      for (std::size_t k = 0; k < m.blocks(); ++k) {
        lu::step_diagonal(m, k, mine);
        sync.arrive_and_wait();
        lu::step_perimeter(m, k, mine);
        sync.arrive_and_wait();
        lu::step_interior(m, k, mine);
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& th : pool) th.join();
  const double seconds = bench::now() - start;

  bench::result r{"lu", "threads", threads, "", args.size(), seconds};
  std::string why;
  r.check = lu::verify(n, b, [&](std::size_t i, std::size_t j) { return m.at(i, j); }, r.verified, why);
  return bench::report(r, why);
}
