// jacobi: Jacobi relaxation of the 2D Laplace equation on a shared grid, the classic DSM workload.
// Two n x n grids live in the global space; the interior rows are split into one contiguous block per
// rank. In every sweep a rank reads its neighbours' boundary rows straight from shared memory (no
// explicit messages: the runtime fetches the units on demand) and writes its own rows into the other
// grid; one barrier per sweep separates the sweeps. Finally rank 0 repeats the whole computation
// sequentially in private memory and checks that the shared result is identical.
// Run it with `mpirun -np 4 ./jacobi [n] [sweeps]` (default 256 x 256, 50 sweeps).
#include <dsm/dsm.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <vector>

namespace {

// One relaxation step for row i of an n-wide grid: dst = average of the four neighbours in src.
// Used by both the shared and the sequential computation, so both round identically.
void relax_row(const double* src, double* dst, std::size_t n, std::size_t i) {
  for (std::size_t j = 1; j + 1 < n; ++j)
    dst[i * n + j] = 0.25 * (src[(i - 1) * n + j] + src[(i + 1) * n + j] + src[i * n + j - 1] + src[i * n + j + 1]);
}

// The fixed boundary: the top edge is held at 100, the other edges at 0.
void set_boundary(double* grid, std::size_t n) {
  for (std::size_t j = 0; j < n; ++j) grid[j] = 100.0;
}

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const std::size_t n = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 256;
  const int sweeps = argc > 2 ? std::atoi(argv[2]) : 50;
  const int me = dsm::rank();
  const int ranks = dsm::ranks();
  if (n < 3 || sweeps < 0) {
    if (me == 0) std::fprintf(stderr, "usage: jacobi [n >= 3] [sweeps >= 0]\n");
    return 2;  // every rank sees the same arguments, so every rank stops here
  }

  // Two grids, swapped after every sweep. Collective, zero-filled.
  double* a = dsm::alloc<double>(n * n);
  double* b = dsm::alloc<double>(n * n);
  int* verdict = dsm::alloc<int>(1);
  if (me == 0) {
    set_boundary(a, n);
    set_boundary(b, n);
  }

  // This rank's block of interior rows [first, last).
  const std::size_t interior = n - 2;
  const std::size_t block = (interior + static_cast<std::size_t>(ranks) - 1) / static_cast<std::size_t>(ranks);
  const std::size_t first = 1 + std::min(interior, block * static_cast<std::size_t>(me));
  const std::size_t last = 1 + std::min(interior, block * static_cast<std::size_t>(me + 1));

  dsm::barrier();  // the boundary is visible everywhere
  const auto start = std::chrono::steady_clock::now();
  for (int s = 0; s < sweeps; ++s) {
    const double* src = s % 2 == 0 ? a : b;
    double* dst = s % 2 == 0 ? b : a;
    for (std::size_t i = first; i < last; ++i) relax_row(src, dst, n, i);
    dsm::barrier();  // this sweep's rows are visible before anyone starts the next sweep
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double* result = sweeps % 2 == 0 ? a : b;

  if (me == 0) {
    // The same computation, sequentially, in private memory.
    std::vector<double> pa(n * n, 0.0), pb(n * n, 0.0);
    set_boundary(pa.data(), n);
    set_boundary(pb.data(), n);
    for (int s = 0; s < sweeps; ++s) {
      const double* src = s % 2 == 0 ? pa.data() : pb.data();
      double* dst = s % 2 == 0 ? pb.data() : pa.data();
      for (std::size_t i = 1; i + 1 < n; ++i) relax_row(src, dst, n, i);
    }
    const std::vector<double>& expected = sweeps % 2 == 0 ? pa : pb;
    double max_diff = 0.0, sum = 0.0;
    for (std::size_t k = 0; k < n * n; ++k) {
      max_diff = std::max(max_diff, std::fabs(result[k] - expected[k]));
      sum += result[k];
    }
    const bool ok = max_diff == 0.0;
    *verdict = ok ? 1 : 2;
    std::printf("jacobi: %d ranks, %zux%zu grid, %d sweeps, %.3f ms/sweep, sum %.6f, max |dsm - sequential| = %g: %s\n",
                ranks, n, n, sweeps, sweeps ? 1e3 * seconds / sweeps : 0.0, sum, max_diff, ok ? "OK" : "FAIL");
  }

  dsm::barrier();  // every rank learns rank 0's verdict
  const bool ok = *verdict == 1;
  dsm::barrier();
  dsm::free(verdict);
  dsm::free(b);
  dsm::free(a);
  return ok ? 0 : 1;
}
