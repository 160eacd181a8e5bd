// lu_dsm.cpp: blocked LU (SPLASH-2 LU) in dsm shared memory. Blocks are owned by ranks in a 2D
// scatter; each step has three phases (diagonal block, perimeter blocks, interior blocks), each
// ended by a dsm::barrier, and every rank works only on the blocks it owns, reading the others'
// blocks of row and column k from shared memory. --layout contiguous stores each block as
// consecutive doubles (a rank writes only its own units); --layout noncontiguous uses the plain
// row-major matrix, where one unit holds rows of blocks of several owners: the false sharing the
// benchmark shows. Rank 0 checks the factors (lu.hpp), untimed.
//   mpirun -np 2 bench_lu_dsm --size full --layout noncontiguous        (DSM_MODEL picks the model)
#include <dsm/dsm.hpp>

#include "lu.hpp"

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const bench::args args(argc, argv, {"n", "block", "layout"});
  const auto [n, b] = lu::pick(args);
  const bool contiguous = lu::contiguous(args);
  const int me = dsm::rank(), ranks = dsm::ranks();

  const lu::matrix m{dsm::alloc<double>(n * n), n, b, contiguous};
  const auto mine = [&](std::size_t I, std::size_t J) { return lu::owner(I, J, ranks) == me; };
  lu::fill(m, mine);
  dsm::barrier();

  const double start = bench::now();
  for (std::size_t k = 0; k < m.blocks(); ++k) {
    lu::step_diagonal(m, k, mine);
    dsm::barrier();
    lu::step_perimeter(m, k, mine);
    dsm::barrier();
    lu::step_interior(m, k, mine);
    dsm::barrier();
  }
  const double seconds = bench::now() - start;

  int status = 0;
  if (me == 0) {
    bench::result r{"lu", "dsm", ranks, dsm::model_name(dsm::current_model()), args.size(), seconds};
    r.extra.emplace_back("layout", contiguous ? "contiguous" : "noncontiguous");
    std::string why;
    r.check = lu::verify(n, b, [&](std::size_t i, std::size_t j) { return m.at(i, j); }, r.verified, why);
    status = bench::report(r, why);
  }
  dsm::barrier();
  dsm::free(m.a);
  return status;
}
