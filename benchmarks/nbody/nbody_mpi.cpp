// nbody_mpi.cpp: the N-body step as an MPI programmer writes it instead: every rank keeps all the
// bodies, computes the same pairs as the dsm version into a private force array, sums the force
// arrays and the potential energy of all ranks with MPI_Allreduce, and moves every body (the move is
// cheap next to the pairs, so no second exchange is needed). Rank 0 checks against the sequential
// run (nbody.hpp), untimed.
//   mpirun -np 2 bench_nbody_mpi --size full
#include <mpi.h>

#include "nbody.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const bench::args args(argc, argv, {"n", "iters"});
  const auto [n, steps] = nbody::pick(args);
  int me = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);

  std::vector<double> pos(3 * n), vel(3 * n), force(3 * n), mass(n), acc;
  const nbody::view s{pos.data(), vel.data(), force.data(), mass.data()};
  nbody::init(s, n, 0, n);
  double potential = 0.0;
  MPI_Barrier(MPI_COMM_WORLD);

  const double start = bench::now();
  for (int step = 0; step < steps; ++step) {
    const double pot = nbody::pair_forces(pos.data(), mass.data(), n, me, ranks, acc);
    MPI_Allreduce(acc.data(), force.data(), static_cast<int>(3 * n), MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    MPI_Allreduce(&pot, &potential, 1, MPI_DOUBLE, MPI_SUM, MPI_COMM_WORLD);
    nbody::move(s, 0, n);
  }
  MPI_Barrier(MPI_COMM_WORLD);
  const double seconds = bench::now() - start;

  int status = 0;
  if (me == 0) {
    bench::result r{"nbody", "mpi", ranks, "", args.size(), seconds};
    std::string why;
    r.check = nbody::verify(n, steps, pos.data(), vel.data(), mass.data(), potential, r.verified, why);
    status = bench::report(r, why);
  }
  MPI_Finalize();
  return status;
}
