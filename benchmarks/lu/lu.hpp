// lu.hpp: blocked LU factorisation without pivoting (as SPLASH-2 LU) that all three versions share:
// the sizes, the matrix, the two layouts, the four block kernels and the check.
//
// The n x n matrix is cut into B x B blocks. Step k factors the diagonal block (k, k), then solves
// the blocks of row k (U) and column k (L) against it, then updates every block (i, j) with i, j > k:
// A_ij -= L_ik U_kj. Every version applies the same kernels to each block in the same order, so
// the factors must equal the sequential blocked factorisation exactly (tolerance 0); the check also
// recomputes sample rows of L U and compares them with A (relative residual at most 1e-12).
//
// Layouts: contiguous (block (I, J) is B*B consecutive doubles, so a block is whole coherence units
// when B*B*8 is a multiple of the unit) and noncontiguous (the plain row-major matrix: a block is B
// pieces of B doubles, and one unit holds pieces of many blocks, which different ranks write:
// false sharing).
#ifndef DSM_BENCHMARKS_LU_HPP_
#define DSM_BENCHMARKS_LU_HPP_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench.hpp"

namespace lu {

struct sizes {
  std::size_t n;
  std::size_t block;
};

inline sizes pick(const bench::args& a) {
  const sizes s{static_cast<std::size_t>(a.pick("n", 64, 256, 1024)),
                static_cast<std::size_t>(a.pick("block", 16, 32, 32))};
  if (s.block == 0 || s.n == 0 || s.n % s.block != 0) {
    std::fprintf(stderr, "lu: --n must be a positive multiple of --block\n");
    std::exit(2);
  }
  return s;
}

inline bool contiguous(const bench::args& a) {
  const std::string l = a.get("layout", "contiguous");
  if (l != "contiguous" && l != "noncontiguous") {
    std::fprintf(stderr, "lu: --layout %s: valid: contiguous, noncontiguous\n", l.c_str());
    std::exit(2);
  }
  return l == "contiguous";
}

// The entry (i, j) of the input: values in [-1, 1) plus n on the diagonal, so no pivoting is needed.
inline double input(std::size_t n, std::size_t i, std::size_t j) {
  std::uint64_t x = (i * 1000003ULL + j) * 0x9E3779B97F4A7C15ULL + 12345;
  x ^= x >> 31;
  x *= 0xBF58476D1CE4E5B9ULL;
  x ^= x >> 29;
  const double v = static_cast<double>(x >> 11) / 4503599627370496.0 - 1.0;
  return i == j ? v + static_cast<double>(n) : v;
}

// A matrix in one of the layouts (or, with column_major_blocks, blocks stored column by column, as
// the MPI version keeps them so that a column of blocks is one contiguous message).
struct matrix {
  double* a;
  std::size_t n;
  std::size_t b;
  bool blocked;
  bool column_major_blocks = false;
  std::size_t blocks() const { return n / b; }
  std::size_t ld() const { return blocked ? b : n; }
  double* block(std::size_t I, std::size_t J) const {
    if (!blocked) return a + I * b * n + J * b;
    const std::size_t index = column_major_blocks ? J * blocks() + I : I * blocks() + J;
    return a + index * b * b;
  }
  double& at(std::size_t i, std::size_t j) const { return block(i / b, j / b)[(i % b) * ld() + j % b]; }
};

// Fills blocks (I, J) for which mine(I, J) is true.
template <class Mine>
void fill(const matrix& m, Mine mine) {
  for (std::size_t I = 0; I < m.blocks(); ++I)
    for (std::size_t J = 0; J < m.blocks(); ++J) {
      if (!mine(I, J)) continue;
      double* blk = m.block(I, J);
      for (std::size_t r = 0; r < m.b; ++r)
        for (std::size_t c = 0; c < m.b; ++c) blk[r * m.ld() + c] = input(m.n, I * m.b + r, J * m.b + c);
    }
}

// The diagonal block in place: L (unit lower, below the diagonal) and U.
inline void factor_diagonal(double* d, std::size_t b, std::size_t ld) {
  for (std::size_t k = 0; k < b; ++k)
    for (std::size_t i = k + 1; i < b; ++i) {
      d[i * ld + k] /= d[k * ld + k];
      const double l = d[i * ld + k];
      for (std::size_t j = k + 1; j < b; ++j) d[i * ld + j] -= l * d[k * ld + j];
    }
}

// A block of row k: U_kj = L_kk^-1 A_kj.
inline void solve_row(const double* d, std::size_t ldd, double* u, std::size_t ldu, std::size_t b) {
  for (std::size_t k = 0; k < b; ++k)
    for (std::size_t i = k + 1; i < b; ++i) {
      const double l = d[i * ldd + k];
      for (std::size_t j = 0; j < b; ++j) u[i * ldu + j] -= l * u[k * ldu + j];
    }
}

// A block of column k: L_ik = A_ik U_kk^-1.
inline void solve_column(const double* d, std::size_t ldd, double* l, std::size_t ldl, std::size_t b) {
  for (std::size_t i = 0; i < b; ++i)
    for (std::size_t k = 0; k < b; ++k) {
      l[i * ldl + k] /= d[k * ldd + k];
      const double v = l[i * ldl + k];
      for (std::size_t j = k + 1; j < b; ++j) l[i * ldl + j] -= v * d[k * ldd + j];
    }
}

// An interior block: A_ij -= L_ik U_kj.
inline void update(double* a, std::size_t lda, const double* l, std::size_t ldl, const double* u, std::size_t ldu,
                   std::size_t b) {
  for (std::size_t i = 0; i < b; ++i)
    for (std::size_t k = 0; k < b; ++k) {
      const double v = l[i * ldl + k];
      for (std::size_t j = 0; j < b; ++j) a[i * lda + j] -= v * u[k * ldu + j];
    }
}

// The three phases of step k, each on the blocks for which mine(I, J) is true.
template <class Mine>
void step_diagonal(const matrix& m, std::size_t k, Mine mine) {
  if (mine(k, k)) factor_diagonal(m.block(k, k), m.b, m.ld());
}
template <class Mine>
void step_perimeter(const matrix& m, std::size_t k, Mine mine) {
  const double* d = m.block(k, k);
  for (std::size_t j = k + 1; j < m.blocks(); ++j)
    if (mine(k, j)) solve_row(d, m.ld(), m.block(k, j), m.ld(), m.b);
  for (std::size_t i = k + 1; i < m.blocks(); ++i)
    if (mine(i, k)) solve_column(d, m.ld(), m.block(i, k), m.ld(), m.b);
}
template <class Mine>
void step_interior(const matrix& m, std::size_t k, Mine mine) {
  for (std::size_t i = k + 1; i < m.blocks(); ++i)
    for (std::size_t j = k + 1; j < m.blocks(); ++j)
      if (mine(i, j)) update(m.block(i, j), m.ld(), m.block(i, k), m.ld(), m.block(k, j), m.ld(), m.b);
}

// The owner of block (I, J) among `parts`: a 2D scatter over a pr x pc grid (pr the largest
// divisor of parts not above its square root), as SPLASH-2 LU.
inline int owner(std::size_t I, std::size_t J, int parts) {
  int pr = 1;
  for (int d = 1; d * d <= parts; ++d)
    if (parts % d == 0) pr = d;
  const int pc = parts / pr;
  return static_cast<int>(I % static_cast<std::size_t>(pr)) * pc + static_cast<int>(J % static_cast<std::size_t>(pc));
}

// Checks the factors (got(i, j) is entry (i, j) of the factored matrix) against the sequential
// blocked factorisation, and sample rows of L U against A.
template <class At>
std::string verify(std::size_t n, std::size_t b, At got, bool& ok, std::string& why) {
  std::vector<double> store(n * n);
  const matrix ref{store.data(), n, b, true};
  const auto all = [](std::size_t, std::size_t) { return true; };
  fill(ref, all);
  for (std::size_t k = 0; k < ref.blocks(); ++k) {
    step_diagonal(ref, k, all);
    step_perimeter(ref, k, all);
    step_interior(ref, k, all);
  }
  double max_diff = 0.0, sum = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    for (std::size_t j = 0; j < n; ++j) {
      const double g = got(i, j);
      max_diff = std::max(max_diff, std::fabs(g - ref.at(i, j)));
      sum += g;
    }
  // (L U)_ij = sum_{k <= min(i, j)} L_ik U_kj with L_ii = 1, on 8 sample rows.
  double residual = 0.0, scale = 0.0;
  for (std::size_t s = 0; s < 8; ++s) {
    const std::size_t i = (s * 7919) % n;
    for (std::size_t j = 0; j < n; ++j) {
      double v = 0.0;
      for (std::size_t k = 0; k <= std::min(i, j); ++k) v += (k == i ? 1.0 : got(i, k)) * got(k, j);
      residual = std::max(residual, std::fabs(v - input(n, i, j)));
      scale = std::max(scale, std::fabs(input(n, i, j)));
    }
  }
  const double rel = residual / scale;
  ok = max_diff == 0.0 && rel <= 1e-12;
  why = bench::format("max |factors - sequential| = %g (must be 0), sample residual |A - LU| / |A| = %.3g "
                      "(at most 1e-12)",
                      max_diff, rel);
  return bench::format("n=%zu block=%zu sum=%.12e", n, b, sum);
}

}  // namespace lu

#endif  // DSM_BENCHMARKS_LU_HPP_
