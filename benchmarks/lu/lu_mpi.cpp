// lu_mpi.cpp: blocked LU as an MPI programmer writes it instead: columns of blocks dealt cyclically
// (column J to rank J % ranks), blocks stored column by column so that a column is one message. In
// step k the owner of column k factors the diagonal block and solves the blocks below it, then
// broadcasts that panel (MPI_Bcast); every rank solves its blocks of row k and updates its blocks
// below. The same kernels in the same order per block as the other versions (lu.hpp). The columns
// are sent to rank 0 after the timed region and checked. --layout is accepted and ignored.
//   mpirun -np 2 bench_lu_mpi --size full
#include <mpi.h>

#include "lu.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const bench::args args(argc, argv, {"n", "block", "layout"});
  const auto [n, b] = lu::pick(args);
  (void)lu::contiguous(args);  // validated, ignored
  int me = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);

  std::vector<double> store(n * n);
  lu::matrix m{store.data(), n, b, true};
  m.column_major_blocks = true;
  const std::size_t nb = m.blocks();
  const auto column_of = [&](std::size_t J) { return static_cast<int>(J % static_cast<std::size_t>(ranks)); };
  lu::fill(m, [&](std::size_t, std::size_t J) { return column_of(J) == me; });
  MPI_Barrier(MPI_COMM_WORLD);

  const double start = bench::now();
  for (std::size_t k = 0; k < nb; ++k) {
    const int root = column_of(k);
    if (root == me) {
      lu::factor_diagonal(m.block(k, k), b, b);
      for (std::size_t i = k + 1; i < nb; ++i) lu::solve_column(m.block(k, k), b, m.block(i, k), b, b);
    }
    // Blocks (k..nb-1, k) are consecutive: the panel.
    MPI_Bcast(m.block(k, k), static_cast<int>((nb - k) * b * b), MPI_DOUBLE, root, MPI_COMM_WORLD);
    for (std::size_t j = k + 1; j < nb; ++j) {
      if (column_of(j) != me) continue;
      lu::solve_row(m.block(k, k), b, m.block(k, j), b, b);
      for (std::size_t i = k + 1; i < nb; ++i) lu::update(m.block(i, j), b, m.block(i, k), b, m.block(k, j), b, b);
    }
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const double seconds = bench::now() - start;

  // Untimed: every column to rank 0.
  const int column_doubles = static_cast<int>(nb * b * b);
  for (std::size_t J = 0; J < nb; ++J) {
    if (column_of(J) == 0) continue;
    if (me == column_of(J)) MPI_Send(m.block(0, J), column_doubles, MPI_DOUBLE, 0, 0, MPI_COMM_WORLD);
    if (me == 0)
      MPI_Recv(m.block(0, J), column_doubles, MPI_DOUBLE, column_of(J), 0, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  int status = 0;
  if (me == 0) {
    bench::result r{"lu", "mpi", ranks, "", args.size(), seconds};
    std::string why;
    r.check = lu::verify(n, b, [&](std::size_t i, std::size_t j) { return m.at(i, j); }, r.verified, why);
    status = bench::report(r, why);
  }
  MPI_Finalize();
  return status;
}
