// matmul_threads.cpp: C = A * B with std::thread in one process, the shared-memory limit: each
// thread fills and multiplies its block of rows, as in the dsm version.
//   bench_matmul_threads --size full --threads 2
#include <thread>

#include "matmul.hpp"

int main(int argc, char** argv) {
  const bench::args args(argc, argv, {"n"});
  const std::size_t n = matmul::pick(args);
  const int threads = args.threads();
  std::vector<double> a(n * n), b(n * n), c(n * n);
  matmul::fill_rows(a.data(), b.data(), n, 0, n);

  const double start = bench::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const auto [first, last] = bench::split(n, threads, t);
      matmul::multiply_rows(a.data(), b.data(), c.data(), n, first, last);
    });
  }
  for (auto& th : pool) th.join();
  const double seconds = bench::now() - start;

  bench::result r{"matmul", "threads", threads, "", args.size(), seconds};
  std::string why;
  r.check = matmul::verify(n, [&](std::size_t i) { return c.data() + i * n; }, r.verified, why);
  return bench::report(r, why);
}
