// micro_barrier: the cost of one dsm::barrier() with no shared data written, next to MPI_Barrier on
// a communicator of the same ranks, both measured in this run. Every rank times batches of `batch`
// back-to-back barriers; one batch's cost is the slowest rank's time divided by `batch`; the row is
// the median over the batches. dsm and MPI batches alternate, so both see the same machine. Open MPI's barrier waits by polling (with mpi_yield_when_idle 1, it
// yields between polls), dsm's waiting threads sleep in the kernel; both are what a program gets.
// Checks that every rank's barrier count (dsm::stats) is the number of barriers made.
// ratio = median / floor. Collective: run it under mpirun at any rank count.
//
// Usage: mpirun -np 4 ./micro_barrier [--size smoke|quick|full]
#include <dsm/dsm.hpp>

#include "micro_common.hpp"

namespace {

// The slowest rank's time per barrier over `batch` back-to-back barriers (the same on every rank).
template <class Barrier>
double time_batch(MPI_Comm comm, long batch, Barrier&& barrier) {
  MPI_Barrier(comm);
  const auto t0 = micro::clock_type::now();
  for (long i = 0; i < batch; ++i) barrier();
  double us = micro::micros_since(t0), slowest = 0;
  MPI_Allreduce(&us, &slowest, 1, MPI_DOUBLE, MPI_MAX, comm);
  return slowest / static_cast<double>(batch);
}

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const micro::options opt = micro::parse_options(argc, argv, "micro_barrier");
  const int n = dsm::ranks();
  MPI_Comm comm;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  const long batch = 50, batches = opt.reps(20);

  std::vector<double> dsm_us, mpi_us;
  dsm::statistics s0{}, s1{};
  for (long b = 0; b <= batches; ++b) {  // batch 0 warms up
    const dsm::statistics before = dsm::stats();
    const double d = time_batch(comm, batch, [] { dsm::barrier(); });
    const dsm::statistics after = dsm::stats();
    const double m = time_batch(comm, batch, [&] { MPI_Barrier(comm); });
    if (b == 0) continue;
    if (b == 1) s0 = before;
    s1 = after;
    dsm_us.push_back(d);
    mpi_us.push_back(m);
  }

  double local[3] = {static_cast<double>(s1.messages_sent - s0.messages_sent),
                     static_cast<double>(s1.bytes_sent - s0.bytes_sent), static_cast<double>(s1.barriers - s0.barriers)};
  double sum[3] = {0, 0, 0}, fewest = 0;
  MPI_Allreduce(local, sum, 3, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(&local[2], &fewest, 1, MPI_DOUBLE, MPI_MIN, comm);
  const double made = static_cast<double>(batch * batches);
  const bool ok = fewest == made && sum[2] == made * n;
  if (dsm::rank() == 0) {
    micro::print_header(("micro_barrier: " + std::to_string(n) + " ranks").c_str());
    char check[160];
    std::snprintf(check, sizeof check, "%.0f barriers counted by dsm::stats on every rank, %.0f made", fewest, made);
    micro::print_row({.bench = "barrier", .op = "barrier", .model = dsm::model_name(dsm::current_model()), .ranks = n,
                      .size = opt.size, .median_us = micro::median(dsm_us), .floor_us = micro::median(mpi_us),
                      .floor = "MPI_Barrier", .samples = batches, .msgs_per_op = sum[0] / made,
                      .bytes_per_op = sum[1] / made, .verified = ok, .check = check});
  }
  MPI_Comm_free(&comm);
  return ok ? 0 : 1;
}
