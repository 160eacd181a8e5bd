// jacobi_mpi.cpp: Jacobi as an MPI programmer writes it instead: each rank keeps its block of rows
// plus one halo row above and below in private memory, and every sweep exchanges the edge rows
// with its neighbours (MPI_Sendrecv) before relaxing its rows. The rows are gathered to rank 0 after
// the timed region and checked against the sequential reference (jacobi.hpp).
//   mpirun -np 2 bench_jacobi_mpi --size full
#include <mpi.h>

#include "jacobi.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const bench::args args(argc, argv, {"n", "iters"});
  const auto [n, iters] = jacobi::pick(args);
  int me = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);

  const auto [first, last] = jacobi::rows(me, ranks, n);
  const std::size_t mine = last - first;
  // Local rows first-1 .. last (halo included), two copies.
  std::vector<double> a((mine + 2) * n), b((mine + 2) * n);
  for (std::size_t r = 0; r < mine + 2; ++r)  // local row r is grid row first - 1 + r
    for (std::size_t j = 0; j < n; ++j) a[r * n + j] = b[r * n + j] = jacobi::initial(n, first - 1 + r, j);
  const int up = first > 1 ? me - 1 : MPI_PROC_NULL;
  const int down = last < n - 1 ? me + 1 : MPI_PROC_NULL;
  const int count = static_cast<int>(n);
  MPI_Barrier(MPI_COMM_WORLD);

  const double start = bench::now();
  for (int s = 0; s < iters; ++s) {
    std::vector<double>& src = s % 2 == 0 ? a : b;
    std::vector<double>& dst = s % 2 == 0 ? b : a;
    if (mine > 0) {
      // Send my first row up and receive the row below my last; then the other way.
      MPI_Sendrecv(&src[1 * n], count, MPI_DOUBLE, up, 0, &src[(mine + 1) * n], count, MPI_DOUBLE, down, 0,
                   MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      MPI_Sendrecv(&src[mine * n], count, MPI_DOUBLE, down, 1, &src[0], count, MPI_DOUBLE, up, 1, MPI_COMM_WORLD,
                   MPI_STATUS_IGNORE);
    }
    for (std::size_t i = 1; i <= mine; ++i) jacobi::relax_row(src.data(), dst.data(), n, i);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const double seconds = bench::now() - start;

  // Untimed: gather the rows to rank 0 and check them.
  const std::vector<double>& result = iters % 2 == 0 ? a : b;
  std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    const auto [f, l] = jacobi::rows(r, ranks, n);
    counts[static_cast<std::size_t>(r)] = static_cast<int>((l - f) * n);
    displs[static_cast<std::size_t>(r)] = static_cast<int>(f * n);
  }
  std::vector<double> grid(me == 0 ? n * n : 0, 0.0);
  MPI_Gatherv(&result[n], static_cast<int>(mine * n), MPI_DOUBLE, grid.data(), counts.data(), displs.data(),
              MPI_DOUBLE, 0, MPI_COMM_WORLD);
  int status = 0;
  if (me == 0) {
    jacobi::init_rows(grid.data(), n, 0, 1);  // the fixed edge rows, never sent
    jacobi::init_rows(grid.data(), n, n - 1, n);
    bench::result r{"jacobi", "mpi", ranks, "", args.size(), seconds};
    std::string why;
    r.check = jacobi::verify(n, iters, [&](std::size_t i) { return grid.data() + i * n; }, r.verified, why);
    status = bench::report(r, why);
  }
  MPI_Finalize();
  return status;
}
