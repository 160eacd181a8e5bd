// micro_lock: the cost of acquiring a dsm::mutex, in three situations, each next to its floor
// measured in the same run (micro_common.hpp):
//   lock_reacquire  rank 0 acquires and releases a lock it held last, over and over (every other
//                   rank waits): time per acquire+release pair, in batches of 200, median over the
//                   batches. floor: a std::mutex lock+unlock pair, timed the same way. The design
//                   says this costs no message; msgs_per_op shows whether it does.
//   lock_remote     (2+ ranks) rank 0 acquires and releases `locks` locks, all managed by rank 0;
//                   then rank 1 acquires each of them, timing every acquire (it releases untimed):
//                   each timed acquire must fetch the token from rank 0. floor: one round trip
//                   between ranks 0 and 1 over the channel dsm's transport uses, carrying as many
//                   bytes as one dsm acquire sent in the warm-up round (from dsm::stats, split
//                   evenly into request and reply), timed by rank 1 after every acquire, to rank
//                   0's application thread waiting asleep while its engine serves the lock.
//   lock_contended  (2+ ranks) all ranks ask for one lock (managed by rank 0) at once: after an
//                   MPI_Barrier, every rank times lock()+unlock(); the lock passes through all of
//                   them in FIFO order. One round costs the slowest rank's time; per acquire, that
//                   divided by the rank count; median over the rounds. floor: one round trip (as
//                   above, sized like one contended acquire's traffic in the warm-up rounds, timed
//                   once after every round) for each acquire that had to move the token: the
//                   round trip times the share of acquires that were remote (about (n-1)/n; the
//                   share is printed in `check`).
// Each row checks that every rank's acquire count (dsm::stats) is the number of acquires made.
// ratio = median / floor. Collective: run it under mpirun at any rank count.
//
// Usage: mpirun -np 2 ./micro_lock [--size smoke|quick|full]
#include <dsm/dsm.hpp>
#include <memory>
#include <mutex>

#include "micro_common.hpp"
#include "../common/traffic.hpp"

namespace {

using micro::clock_type;
using micro::micros_since;

using counts = bench::traffic;

// The traffic and acquires of all ranks while `body` runs on every rank. Collective over comm.
template <class Body>
counts counted(MPI_Comm comm, Body&& body) {
  const dsm::statistics s0 = dsm::stats();
  body();
  micro::sleepy_barrier(comm);
  return bench::summed_traffic(s0, dsm::stats(), comm);
}

std::string acquire_check(double got, double expected) {
  char buf[160];
  std::snprintf(buf, sizeof buf, "%.0f acquires counted by dsm::stats, %.0f made", got, expected);
  return buf;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string transport = micro::configured_transport(argc, argv);
  dsm::runtime rt(argc, argv);
  const micro::options opt = micro::parse_options(argc, argv, "micro_lock");
  const int me = dsm::rank();
  const int n = dsm::ranks();
  const std::string model = dsm::model_name(dsm::current_model());
  MPI_Comm comm;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  const bool node_local = n > 1 && micro::same_node(comm, 0, 1) && transport != "mpi";
  std::vector<micro::row> rows;
  bool all_ok = true;

  // ---- lock_reacquire --------------------------------------------------------------------------------
  {
    const long batch = 200, batches = opt.reps(150);
    dsm::mutex m{0};  // managed by rank 0
    std::vector<double> per_pair;
    const counts c = counted(comm, [&] {
      if (me != 0) return;
      m.lock();  // the token comes to rank 0 (its manager) and stays
      m.unlock();
      for (long b = 0; b < batches; ++b) {
        const auto t0 = clock_type::now();
        for (long i = 0; i < batch; ++i) {
          m.lock();
          m.unlock();
        }
        per_pair.push_back(micros_since(t0) / static_cast<double>(batch));
      }
    });
    std::vector<double> floor_pair;
    if (me == 0) {
      std::mutex local;
      for (long b = 0; b < batches; ++b) {
        const auto t0 = clock_type::now();
        for (long i = 0; i < batch; ++i) {
          local.lock();
          std::atomic_signal_fence(std::memory_order_seq_cst);
          local.unlock();
        }
        floor_pair.push_back(micros_since(t0) / static_cast<double>(batch));
      }
    }
    const double made = static_cast<double>(batch * batches + 1);
    const bool ok = c.acquires == made;
    all_ok &= ok;
    const double ops = static_cast<double>(batch * batches);
    rows.push_back({.bench = "lock", .op = "lock_reacquire", .model = model, .ranks = n, .size = opt.size,
                    .median_us = micro::median(per_pair), .floor_us = micro::median(floor_pair),
                    .floor = "std::mutex lock+unlock", .samples = batches, .msgs_per_op = c.msgs / ops,
                    .bytes_per_op = c.bytes / ops, .verified = ok, .check = acquire_check(c.acquires, made)});
  }

  if (n >= 2) {
    // ---- lock_remote -------------------------------------------------------------------------------
    const std::size_t locks = opt.size == "smoke" ? 40 : 200;
    const long rounds = opt.reps(3);
    auto lock_id = [&](std::size_t k) {  // managed by rank 0
      return static_cast<std::uint64_t>(1000 * n) + k * static_cast<std::uint64_t>(n);
    };
    std::vector<double> samples, rtts;
    counts timed;
    std::unique_ptr<micro::round_trip_channel> channel;
    for (long round = 0; round <= rounds; ++round) {  // round 0 warms up and sizes the floor
      if (me == 0)
        for (std::size_t k = 0; k < locks; ++k) {
          dsm::mutex m{lock_id(k)};
          m.lock();
          m.unlock();
        }
      micro::sleepy_barrier(comm);
      const counts c = counted(comm, [&] {
        if (channel && channel->server()) channel->serve();
        if (me != 1) return;
        for (std::size_t k = 0; k < locks; ++k) {
          dsm::mutex m{lock_id(k)};
          const auto t0 = clock_type::now();
          m.lock();
          const double us = micros_since(t0);
          m.unlock();
          if (round > 0) {
            samples.push_back(us);
            rtts.push_back(channel->once());
          }
        }
        if (channel) channel->stop();
      });
      if (round == 0) {
        const auto bytes = static_cast<std::size_t>(c.bytes / static_cast<double>(locks));
        channel = std::make_unique<micro::round_trip_channel>(comm, node_local, bytes / 2, bytes - bytes / 2, 1);
        std::vector<double> warm;
        channel->run(0, &warm, 10);
      } else {
        timed.msgs += c.msgs;
        timed.bytes += c.bytes;
        timed.acquires += c.acquires;
        timed.remote_acquires += c.remote_acquires;
      }
    }
    const double made = static_cast<double>(locks) * static_cast<double>(rounds);
    const double med = micro::from_rank1(comm, micro::median(samples));
    const double rtt = micro::from_rank1(comm, micro::median(rtts));
    const bool ok = timed.acquires == made && timed.remote_acquires == made;
    all_ok &= ok;
    rows.push_back({.bench = "lock", .op = "lock_remote", .model = model, .ranks = n, .size = opt.size,
                    .median_us = med, .floor_us = rtt, .floor = channel->what(),
                    .samples = static_cast<long>(made), .msgs_per_op = timed.msgs / made,
                    .bytes_per_op = timed.bytes / made, .verified = ok,
                    .check = acquire_check(timed.acquires, made) + ", " +
                             std::to_string(static_cast<long>(timed.remote_acquires)) + " remote"});

    // ---- lock_contended ----------------------------------------------------------------------------
    const long warm_rounds = 20, rounds_c = opt.reps(200);
    dsm::mutex m{static_cast<std::uint64_t>(5000 * n)};  // manager: rank 0
    auto contended_round = [&] {  // the slowest rank's time per acquire
      MPI_Barrier(comm);  // a tight start: every rank asks at about the same moment
      const auto t0 = clock_type::now();
      m.lock();
      m.unlock();
      double us = micros_since(t0), slowest = 0;
      MPI_Allreduce(&us, &slowest, 1, MPI_DOUBLE, MPI_MAX, comm);
      return slowest / static_cast<double>(n);
    };
    micro::sleepy_barrier(comm);
    const counts warm = counted(comm, [&] {
      for (long round = 0; round < warm_rounds; ++round) contended_round();
    });
    const auto bytes_c = static_cast<std::size_t>(warm.bytes / static_cast<double>(warm_rounds * n));
    micro::round_trip_channel channel_c(comm, node_local, bytes_c / 2, bytes_c - bytes_c / 2);
    std::vector<double> per_acquire, rtts_c;
    const counts all = counted(comm, [&] {
      for (long round = 0; round < rounds_c; ++round) {
        per_acquire.push_back(contended_round());
        channel_c.run(1, &rtts_c, round == 0 ? 10 : 0);
        micro::sleepy_barrier(comm);  // the ranks not in the round trip wait without spinning
      }
    });
    const double made_c = static_cast<double>(rounds_c * n);
    const bool ok_c = all.acquires == made_c;
    all_ok &= ok_c;
    char share[64];
    std::snprintf(share, sizeof share, ", %.0f%% of them moved the token", 100.0 * all.remote_acquires / made_c);
    rows.push_back({.bench = "lock", .op = "lock_contended", .model = model, .ranks = n, .size = opt.size,
                    .median_us = micro::median(per_acquire),
                    .floor_us = micro::median(rtts_c) * all.remote_acquires / made_c,
                    .floor = "remote share x " + channel_c.what(), .samples = rounds_c, .msgs_per_op = all.msgs / made_c,
                    .bytes_per_op = all.bytes / made_c, .verified = ok_c,
                    .check = acquire_check(all.acquires, made_c) + share});
  }

  if (me == 0) {
    char title[160];
    std::snprintf(title, sizeof title, "micro_lock: %d ranks, DSM_TRANSPORT=%s (%s path)", n, transport.c_str(),
                  node_local ? "node-local" : "MPI");
    micro::print_header(title);
    for (const micro::row& r : rows) micro::print_row(r);
  }
  MPI_Comm_free(&comm);
  return all_ok ? 0 : 1;
}
