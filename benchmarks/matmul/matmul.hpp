// matmul.hpp: the dense matrix multiply C = A * B (n x n doubles, row-major) that all three versions
// share: sizes, the deterministic integer-valued inputs, the row kernel and the check.
//
// Every entry of A and B is a small integer, so every product and partial sum is an integer far
// below 2^53 and exact in double: whatever the order of summation, C must equal the sequential
// reference exactly (tolerance 0).
#ifndef DSM_BENCHMARKS_MATMUL_HPP_
#define DSM_BENCHMARKS_MATMUL_HPP_

#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "bench.hpp"

namespace matmul {

inline std::size_t pick(const bench::args& a) { return static_cast<std::size_t>(a.pick("n", 48, 256, 1024)); }

inline double a_at(std::size_t i, std::size_t k) {
  return static_cast<double>(static_cast<long>((i * 3 + k * 7) % 13) - 6);
}
inline double b_at(std::size_t k, std::size_t j) {
  return static_cast<double>(static_cast<long>((k * 5 + j * 11) % 17) - 8);
}

// Rows [first, last) of A and of B.
inline void fill_rows(double* a, double* b, std::size_t n, std::size_t first, std::size_t last) {
  for (std::size_t i = first; i < last; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      a[i * n + j] = a_at(i, j);
      b[i * n + j] = b_at(i, j);
    }
}

// Rows [first, last) of C = A * B (i-k-j order: streams through rows of B).
inline void multiply_rows(const double* a, const double* b, double* c, std::size_t n, std::size_t first,
                          std::size_t last) {
  for (std::size_t i = first; i < last; ++i) {
    double* ci = c + i * n;
    for (std::size_t j = 0; j < n; ++j) ci[j] = 0.0;
    for (std::size_t k = 0; k < n; ++k) {
      const double aik = a[i * n + k];
      const double* bk = b + k * n;
      for (std::size_t j = 0; j < n; ++j) ci[j] += aik * bk[j];
    }
  }
}

// Checks row i of C (got(i) points to its n values) against C computed sequentially here; the
// check string is the sum and the trace of C (exact integers).
template <class RowOf>
std::string verify(std::size_t n, RowOf got, bool& ok, std::string& why) {
  std::vector<double> a(n * n), b(n * n), c(n * n);
  fill_rows(a.data(), b.data(), n, 0, n);
  multiply_rows(a.data(), b.data(), c.data(), n, 0, n);
  double max_diff = 0.0, sum = 0.0, trace = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double* row = got(i);
    for (std::size_t j = 0; j < n; ++j) {
      max_diff = std::max(max_diff, std::fabs(row[j] - c[i * n + j]));
      sum += row[j];
    }
    trace += row[i];
  }
  ok = max_diff == 0.0;
  why = bench::format("max |C - sequential C| = %g, must be 0", max_diff);
  return bench::format("n=%zu sum=%.0f trace=%.0f", n, sum, trace);
}

}  // namespace matmul

#endif  // DSM_BENCHMARKS_MATMUL_HPP_
