// matmul_mpi.cpp: C = A * B as an MPI programmer writes it: each rank generates its block of rows
// of A and B; the timed region gathers all of B on every rank (MPI_Allgatherv) and multiplies its
// rows. C is gathered to rank 0 after the timed region and checked (matmul.hpp).
//   mpirun -np 2 bench_matmul_mpi --size full
#include <mpi.h>

#include "matmul.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const bench::args args(argc, argv, {"n"});
  const std::size_t n = matmul::pick(args);
  int me = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);

  std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    const auto [f, l] = bench::split(n, ranks, r);
    counts[static_cast<std::size_t>(r)] = static_cast<int>((l - f) * n);
    displs[static_cast<std::size_t>(r)] = static_cast<int>(f * n);
  }
  const auto [first, last] = bench::split(n, ranks, me);
  // Full-size arrays for simplicity; only this rank's rows of A and C are used.
  std::vector<double> a(n * n), b(n * n), c(n * n);
  matmul::fill_rows(a.data(), b.data(), n, first, last);
  MPI_Barrier(MPI_COMM_WORLD);

  const double start = bench::now();
  MPI_Allgatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, b.data(), counts.data(), displs.data(), MPI_DOUBLE,
                 MPI_COMM_WORLD);
  matmul::multiply_rows(a.data(), b.data(), c.data(), n, first, last);
  MPI_Barrier(MPI_COMM_WORLD);
  const double seconds = bench::now() - start;

  if (me == 0) {
    MPI_Gatherv(MPI_IN_PLACE, 0, MPI_DATATYPE_NULL, c.data(), counts.data(), displs.data(), MPI_DOUBLE, 0,
                MPI_COMM_WORLD);
  } else {
    MPI_Gatherv(c.data() + first * n, static_cast<int>((last - first) * n), MPI_DOUBLE, nullptr, nullptr, nullptr,
                MPI_DOUBLE, 0, MPI_COMM_WORLD);
  }
  int status = 0;
  if (me == 0) {
    bench::result r{"matmul", "mpi", ranks, "", args.size(), seconds};
    std::string why;
    r.check = matmul::verify(n, [&](std::size_t i) { return c.data() + i * n; }, r.verified, why);
    status = bench::report(r, why);
  }
  MPI_Finalize();
  return status;
}
