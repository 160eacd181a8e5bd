// micro_barrier: the cost of one dsm::barrier() with no shared data written, next to two floors
// measured in this run. Every rank times batches of `batch` back-to-back barriers; one batch's cost
// is the slowest rank's time divided by `batch`; a row is the median over the batches.
//   barrier           floor: MPI_Barrier on a communicator of the same ranks. Open MPI waits by
//                     polling (yielding between polls with mpi_yield_when_idle 1), which dsm may not
//                     do: its waiting threads sleep in the kernel.
//   barrier_sleeping  the same dsm barriers; floor: what any barrier whose waiting threads sleep
//                     costs at least, one round trip between ranks 0 and 1 over the channel dsm's
//                     transport uses (micro_common.hpp), each message the size of an average dsm
//                     barrier message, timed in batches of `batch` too.
// dsm, MPI and round-trip batches alternate, so all see the same machine. Checks that every rank's
// barrier count (dsm::stats) is the number of barriers made. ratio = median / floor. Collective:
// run it under mpirun at any rank count of 2 or more.
//
// Usage: mpirun -np 4 ./micro_barrier [--size smoke|quick|full]
#include <dsm/dsm.hpp>
#include <memory>

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
  const std::string transport = micro::configured_transport(argc, argv);
  dsm::runtime rt(argc, argv);
  const micro::options opt = micro::parse_options(argc, argv, "micro_barrier");
  const int n = dsm::ranks();
  if (n < 2) {
    if (dsm::rank() == 0) std::fprintf(stderr, "micro_barrier: needs at least 2 ranks (mpirun -np 2)\n");
    return 2;
  }
  MPI_Comm comm;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  const bool node_local = micro::same_node(comm, 0, 1) && transport != "mpi";
  const long batch = 50, batches = opt.reps(20);

  std::vector<double> dsm_us, mpi_us, rtt_us;
  std::unique_ptr<micro::round_trip_channel> channel;
  dsm::statistics s0{}, s1{};
  for (long b = 0; b <= batches; ++b) {  // batch 0 warms up and sizes the round trip
    const dsm::statistics before = dsm::stats();
    const double d = time_batch(comm, batch, [] { dsm::barrier(); });
    const dsm::statistics after = dsm::stats();
    const double m = time_batch(comm, batch, [&] { MPI_Barrier(comm); });
    if (b == 0) {
      double local[2] = {static_cast<double>(after.messages_sent - before.messages_sent),
                         static_cast<double>(after.bytes_sent - before.bytes_sent)};
      double sum[2] = {0, 0};
      MPI_Allreduce(local, sum, 2, MPI_DOUBLE, MPI_SUM, comm);
      const auto message = static_cast<std::size_t>(sum[0] > 0 ? sum[1] / sum[0] : 16);
      channel = std::make_unique<micro::round_trip_channel>(comm, node_local, message, message);
      std::vector<double> warm;
      channel->run(0, &warm, 10);
      micro::sleepy_barrier(comm);
      continue;
    }
    std::vector<double> one;
    channel->run(static_cast<int>(batch), &one);
    micro::sleepy_barrier(comm);  // the ranks outside the round trip wait without spinning
    if (b == 1) s0 = before;
    s1 = after;
    dsm_us.push_back(d);
    mpi_us.push_back(m);
    double total = 0;
    for (double us : one) total += us;
    rtt_us.push_back(total / static_cast<double>(batch));  // rank 0's; empty elsewhere
  }

  double local[3] = {static_cast<double>(s1.messages_sent - s0.messages_sent),
                     static_cast<double>(s1.bytes_sent - s0.bytes_sent), static_cast<double>(s1.barriers - s0.barriers)};
  double sum[3] = {0, 0, 0}, fewest = 0;
  MPI_Allreduce(local, sum, 3, MPI_DOUBLE, MPI_SUM, comm);
  MPI_Allreduce(&local[2], &fewest, 1, MPI_DOUBLE, MPI_MIN, comm);
  const double made = static_cast<double>(batch * batches);
  const bool ok = fewest == made && sum[2] == made * n;
  if (dsm::rank() == 0) {
    char title[160];
    std::snprintf(title, sizeof title, "micro_barrier: %d ranks, DSM_TRANSPORT=%s (%s path)", n, transport.c_str(),
                  node_local ? "node-local" : "MPI");
    micro::print_header(title);
    char check[160];
    std::snprintf(check, sizeof check, "%.0f barriers counted by dsm::stats on every rank, %.0f made", fewest, made);
    micro::row r{.bench = "barrier", .op = "barrier", .model = dsm::model_name(dsm::current_model()), .ranks = n,
                 .size = opt.size, .median_us = micro::median(dsm_us), .floor_us = micro::median(mpi_us),
                 .floor = "MPI_Barrier", .samples = batches, .msgs_per_op = sum[0] / made,
                 .bytes_per_op = sum[1] / made, .verified = ok, .check = check};
    micro::print_row(r);
    r.op = "barrier_sleeping";
    r.floor_us = micro::median(rtt_us);
    r.floor = "one " + channel->what();
    micro::print_row(r);
  }
  MPI_Comm_free(&comm);
  return ok ? 0 : 1;
}
