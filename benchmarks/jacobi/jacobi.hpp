// jacobi.hpp: the Jacobi relaxation that all three versions (jacobi_dsm.cpp, jacobi_mpi.cpp,
// jacobi_threads.cpp) share: the sizes, one relaxation step per row, the fixed boundary, the row
// partition, and the sequential reference the result is checked against.
//
// The problem: the 2D Laplace equation on an n x n grid, top edge held at 100, other edges at 0,
// `iters` Jacobi sweeps from an interior that starts with a fixed pattern (so every row changes in
// every sweep, and a wrong row anywhere shows in the check). Every version computes each point with
// the same expression in the same order, so the result must equal the sequential reference exactly
// (tolerance 0, bit for bit).
#ifndef DSM_BENCHMARKS_JACOBI_HPP_
#define DSM_BENCHMARKS_JACOBI_HPP_

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "bench.hpp"

namespace jacobi {

struct sizes {
  std::size_t n;
  int iters;
};

inline sizes pick(const bench::args& a) {
  return {static_cast<std::size_t>(a.pick("n", 64, 256, 1024)), static_cast<int>(a.pick("iters", 10, 60, 100))};
}

// dst row i = average of the four neighbours in src.
inline void relax_row(const double* src, double* dst, std::size_t n, std::size_t i) {
  for (std::size_t j = 1; j + 1 < n; ++j)
    dst[i * n + j] = 0.25 * (src[(i - 1) * n + j] + src[(i + 1) * n + j] + src[i * n + j - 1] + src[i * n + j + 1]);
}

// The starting value of point (i, j): the fixed edges, and a pattern inside.
inline double initial(std::size_t n, std::size_t i, std::size_t j) {
  if (i == 0) return 100.0;
  if (i == n - 1 || j == 0 || j == n - 1) return 0.0;
  return static_cast<double>((i * 7 + j * 13) % 64);
}

// Rows [first, last) of a grid (row 0 of the grid is grid[0..n)) get their starting values.
inline void init_rows(double* grid, std::size_t n, std::size_t first, std::size_t last) {
  for (std::size_t i = first; i < last; ++i)
    for (std::size_t j = 0; j < n; ++j) grid[i * n + j] = initial(n, i, j);
}

// Rows [first, last) of the interior rows 1..n-2 for part `p` of `parts`. Part boundaries are
// rounded to multiples of `align_rows` rows, so that (with align_rows = rows per coherence unit)
// no two parts write the same unit.
inline std::pair<std::size_t, std::size_t> rows(int p, int parts, std::size_t n, std::size_t align_rows = 1) {
  auto edge = [&](int k) {
    if (k <= 0) return std::size_t{1};
    if (k >= parts) return n - 1;
    std::size_t e = 1 + (n - 2) * static_cast<std::size_t>(k) / static_cast<std::size_t>(parts);
    e = (e + align_rows / 2) / align_rows * align_rows;
    return std::clamp<std::size_t>(e, 1, n - 1);
  };
  return {edge(p), std::max(edge(p), edge(p + 1))};
}

// The whole computation, sequentially, in private memory: the grid after `iters` sweeps.
inline std::vector<double> reference(std::size_t n, int iters) {
  std::vector<double> a(n * n), b(n * n);
  init_rows(a.data(), n, 0, n);
  init_rows(b.data(), n, 0, n);
  for (int s = 0; s < iters; ++s) {
    const double* src = s % 2 == 0 ? a.data() : b.data();
    double* dst = s % 2 == 0 ? b.data() : a.data();
    for (std::size_t i = 1; i + 1 < n; ++i) relax_row(src, dst, n, i);
  }
  return iters % 2 == 0 ? a : b;
}

// Compares row i of the result (got(i) returns a pointer to its n values) with the reference.
// Returns the check string (the grid's sum) and sets `ok` when every value is identical.
template <class RowOf>
std::string verify(std::size_t n, int iters, RowOf got, bool& ok, std::string& why) {
  const std::vector<double> ref = reference(n, iters);
  double max_diff = 0.0, sum = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double* row = got(i);
    for (std::size_t j = 0; j < n; ++j) {
      max_diff = std::max(max_diff, std::fabs(row[j] - ref[i * n + j]));
      sum += row[j];
    }
  }
  ok = max_diff == 0.0;
  why = bench::format("max |result - sequential| = %g, must be 0", max_diff);
  return bench::format("%zux%zu iters=%d sum=%.12e", n, n, iters, sum);
}

}  // namespace jacobi

#endif  // DSM_BENCHMARKS_JACOBI_HPP_
