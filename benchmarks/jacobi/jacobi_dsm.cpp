// jacobi_dsm.cpp: Jacobi on two grids in dsm shared memory, written the way a DSM user writes it.
// The interior rows are split into one block per rank, with block edges on coherence-unit
// boundaries so that each rank writes only its own units. A sweep reads the neighbours' edge rows
// straight from shared memory (the runtime fetches them on demand) and ends in one dsm::barrier.
// Rank 0 checks the final grid against the sequential reference (jacobi.hpp), untimed.
//   mpirun -np 2 bench_jacobi_dsm --size full        (DSM_MODEL picks the model)
#include <dsm/dsm.hpp>

#include "jacobi.hpp"

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const bench::args args(argc, argv, {"n", "iters"});
  const auto [n, iters] = jacobi::pick(args);
  const int me = dsm::rank(), ranks = dsm::ranks();

  double* a = dsm::alloc<double>(n * n);
  double* b = dsm::alloc<double>(n * n);
  const std::size_t row_bytes = n * sizeof(double);
  const std::size_t align_rows = row_bytes >= dsm::unit_size() ? 1 : dsm::unit_size() / row_bytes;
  const auto [first, last] = jacobi::rows(me, ranks, n, align_rows);
  // Each rank initialises its own rows, and the first and last rank the fixed edge rows.
  const std::size_t init_first = first == 1 ? 0 : first, init_last = last == n - 1 ? n : last;
  jacobi::init_rows(a, n, init_first, init_last);
  jacobi::init_rows(b, n, init_first, init_last);
  dsm::barrier();  // the starting grid is visible everywhere

  const double start = bench::now();
  for (int s = 0; s < iters; ++s) {
    const double* src = s % 2 == 0 ? a : b;
    double* dst = s % 2 == 0 ? b : a;
    for (std::size_t i = first; i < last; ++i) jacobi::relax_row(src, dst, n, i);
    dsm::barrier();
  }
  const double seconds = bench::now() - start;

  int status = 0;
  if (me == 0) {
    const double* grid = iters % 2 == 0 ? a : b;
    bench::result r{"jacobi", "dsm", ranks, dsm::model_name(dsm::current_model()), args.size(), seconds};
    std::string why;
    r.check = jacobi::verify(n, iters, [&](std::size_t i) { return grid + i * n; }, r.verified, why);
    status = bench::report(r, why);
  }
  dsm::barrier();
  dsm::free(b);
  dsm::free(a);
  return status;
}
