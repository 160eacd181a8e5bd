// matmul_dsm.cpp: C = A * B with A, B and C in dsm shared memory. Each rank owns a block of rows
// (edges on coherence-unit boundaries): it fills its rows of A and B, and after a barrier computes
// its rows of C, reading all of B straight from shared memory (the runtime fetches the other ranks'
// rows on demand). Rank 0 checks C against the sequential product (matmul.hpp), untimed.
//   mpirun -np 2 bench_matmul_dsm --size full        (DSM_MODEL picks the model)
#include <dsm/dsm.hpp>

#include "matmul.hpp"

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const bench::args args(argc, argv, {"n"});
  const std::size_t n = matmul::pick(args);
  const int me = dsm::rank(), ranks = dsm::ranks();

  double* a = dsm::alloc<double>(n * n);
  double* b = dsm::alloc<double>(n * n);
  double* c = dsm::alloc<double>(n * n);
  const std::size_t row_bytes = n * sizeof(double);
  const std::size_t align_rows = row_bytes >= dsm::unit_size() ? 1 : dsm::unit_size() / row_bytes;
  const auto [first, last] = bench::split(n, ranks, me, align_rows);
  matmul::fill_rows(a, b, n, first, last);
  dsm::barrier();

  const double start = bench::now();
  matmul::multiply_rows(a, b, c, n, first, last);
  dsm::barrier();
  const double seconds = bench::now() - start;

  int status = 0;
  if (me == 0) {
    bench::result r{"matmul", "dsm", ranks, dsm::model_name(dsm::current_model()), args.size(), seconds};
    std::string why;
    r.check = matmul::verify(n, [&](std::size_t i) { return c + i * n; }, r.verified, why);
    status = bench::report(r, why);
  }
  dsm::barrier();
  dsm::free(c);
  dsm::free(b);
  dsm::free(a);
  return status;
}
