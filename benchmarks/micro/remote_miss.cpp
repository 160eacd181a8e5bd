// remote_miss: the cost of one remote read miss and one remote write miss of a unit between two
// ranks, next to the floor this same program measures in the same run (micro_common.hpp).
//
// Pattern (ranks 0 and 1; any further ranks only take part in the barriers), repeated for `rounds`,
// each round on `units` fresh units for the reads and `units` more for the writes, none of which
// rank 1 has ever touched:
//   rank 0 writes one word of every unit of both sets (it becomes their owner / last writer), barrier;
//   rank 1 reads one word of each unit of the first set, timing every load   -> read_miss;
//   rank 1 writes one word of each unit of the second set, timing every store -> write_miss.
// Fresh units make every timed access a miss under every model (an update protocol such as eager
// release would otherwise have refreshed a copy rank 1 kept from the round before): a fault, a
// request to the home/owner/writer and the unit (or its diff) coming back. Messages and bytes per
// miss are the runtime's own (dsm::stats, summed over the ranks) during the timed phases.
//
// floor = a bare protection fault (SIGSEGV on a PROT_NONE page of our own, mprotect in the handler,
// return; measured before dsm::init) + one round trip of the same size as the miss: a 16-byte request
// and a reply carrying the rest of the bytes one miss sent in the warm-up round (dsm::stats; a whole
// unit under the sequential model, the units a fetch brings under home-based lazy release, a diff of
// a few words under homeless lazy release, divided by the misses), over the channel
// dsm's transport is built on (a futex doorbell over shared memory between ranks
// of one node; MPI_Test + sched_yield with DSM_TRANSPORT=mpi or across nodes). Rank 1 times one
// round trip after every miss, to rank 0's application thread, which waits for it asleep while its
// engine serves the misses: miss and floor sample by sample see the same machine. ratio = median/floor.
// Where the misses sent (almost) no message in the warm-up round (eager release between node-mates:
// the node-local fast path copies the home copy directly), the floor is the bare fault + a memcpy of
// one unit between two buffers of rank 1, timed the same way after every miss.
// Only accesses that missed are timed samples (dsm::stats() before and after each one): under eager
// release, a unit homed at rank 1 is kept up to date by rank 0's release and is read without a miss.
// Rank 1 checks every value it reads; a wrong one fails the run (exit 1).
//
// Usage: mpirun -np 2 ./micro_remote_miss [--size smoke|quick|full]   (DSM_UNIT sets the unit)
#include <dsm/dsm.hpp>

#include <memory>

#include "micro_common.hpp"

namespace {

using micro::clock_type;
using micro::micros_since;

struct phase_cost {
  std::vector<double> samples;
  double msgs = 0, bytes = 0;
};

// Runs `body` on every rank between two points where the counters of all ranks are read; the
// difference, summed over the ranks, is added to `cost`. Collective.
template <class Body>
void counted(MPI_Comm comm, phase_cost& cost, Body&& body) {
  const dsm::statistics s0 = dsm::stats();
  body();
  micro::sleepy_barrier(comm);  // every rank's engine has served its part before the counters are read
  const dsm::statistics s1 = dsm::stats();
  double local[2] = {static_cast<double>(s1.messages_sent - s0.messages_sent),
                     static_cast<double>(s1.bytes_sent - s0.bytes_sent)};
  double sum[2] = {0, 0};
  MPI_Allreduce(local, sum, 2, MPI_DOUBLE, MPI_SUM, comm);
  cost.msgs += sum[0];
  cost.bytes += sum[1];
}

}  // namespace

int main(int argc, char** argv) {
  const std::string transport = micro::configured_transport(argc, argv);
  const micro::fault_floor fault = micro::measure_bare_fault(2000);  // before dsm::init

  dsm::runtime rt(argc, argv);
  const micro::options opt = micro::parse_options(argc, argv, "micro_remote_miss");
  const int me = dsm::rank();
  if (dsm::ranks() < 2) {
    if (me == 0) std::fprintf(stderr, "micro_remote_miss: needs at least 2 ranks (mpirun -np 2)\n");
    return 2;
  }
  const std::size_t unit = dsm::unit_size();
  const std::size_t units = opt.size == "smoke" ? 40 : 200;
  const long rounds = opt.reps(3);

  MPI_Comm comm;  // our own communicator, so we never meet dsm's or the program's traffic
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  const bool node_local = micro::same_node(comm, 0, 1) && transport != "mpi";

  // The misses: 2 x `units` fresh units per round (round 0 warms up and is not counted), plus one so
  // that the first unit starts on a unit boundary whatever alloc's alignment.
  const std::size_t per_round = 2 * units;
  char* raw = dsm::alloc<char>((per_round * static_cast<std::size_t>(rounds + 1) + 1) * unit);
  char* base = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + unit - 1) / unit * unit);
  phase_cost reads, writes, warm_reads, warm_writes;
  double warm_misses[2] = {0, 0};  // rank 1's misses in the warm-up round: reads, writes
  long wrong = 0;
  // The floor's channels, sized after the warm-up round: one per kind of miss.
  std::unique_ptr<micro::round_trip_channel> read_channel, write_channel;
  std::vector<double> read_rtts, write_rtts;
  // The floor of a miss that sends nothing: a memcpy of one unit (see above).
  bool copy_read_floor = false, copy_write_floor = false;
  std::vector<char> copy_from(unit, 1), copy_to(unit, 0);
  auto floor_once = [&](micro::round_trip_channel* channel, bool copy_floor) {
    if (!copy_floor) return channel->once();
    ++copy_from[0];
    const auto t0 = clock_type::now();
    std::memcpy(copy_to.data(), copy_from.data(), unit);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const double us = micros_since(t0);
    if (copy_to[0] != copy_from[0]) ++wrong;
    return us;
  };
  // True if the access `access` made was a miss (a read miss or a write miss on this rank).
  auto missed = [](const dsm::statistics& before) {
    const dsm::statistics after = dsm::stats();
    return after.read_misses + after.write_misses > before.read_misses + before.write_misses;
  };
  for (long round = 0; round <= rounds; ++round) {
    char* first = base + static_cast<std::size_t>(round) * per_round * unit;
    auto read_set = [&](std::size_t u) -> volatile long* { return reinterpret_cast<volatile long*>(first + u * unit); };
    auto write_set = [&](std::size_t u) { return read_set(units + u); };
    if (me == 0)
      for (std::size_t u = 0; u < per_round; ++u) *read_set(u) = round * 10 + 1;
    dsm::barrier();
    micro::round_trip_channel* channel = read_channel.get();
    counted(comm, round > 0 ? reads : warm_reads, [&] {
      if (channel && channel->server()) channel->serve();
      if (me != 1) return;
      for (std::size_t u = 0; u < units; ++u) {
        const dsm::statistics before = dsm::stats();
        const auto t0 = clock_type::now();
        std::atomic_signal_fence(std::memory_order_seq_cst);
        const long v = *read_set(u);
        std::atomic_signal_fence(std::memory_order_seq_cst);
        const double us = micros_since(t0);
        if (v != round * 10 + 1) ++wrong;
        if (!channel && missed(before)) ++warm_misses[0];
        if (channel && missed(before)) {
          reads.samples.push_back(us);
          read_rtts.push_back(floor_once(channel, copy_read_floor));
        }
      }
      if (channel) channel->stop();
    });
    channel = write_channel.get();
    counted(comm, round > 0 ? writes : warm_writes, [&] {
      if (channel && channel->server()) channel->serve();
      if (me != 1) return;
      for (std::size_t u = 0; u < units; ++u) {
        const dsm::statistics before = dsm::stats();
        const auto t0 = clock_type::now();
        std::atomic_signal_fence(std::memory_order_seq_cst);
        *write_set(u) = round * 10 + 3;
        std::atomic_signal_fence(std::memory_order_seq_cst);
        const double us = micros_since(t0);
        if (!channel && missed(before)) ++warm_misses[1];
        if (channel && missed(before)) {
          writes.samples.push_back(us);
          write_rtts.push_back(floor_once(channel, copy_write_floor));
        }
      }
      if (channel) channel->stop();
    });
    if (round == 0) {  // size the floor like the misses: 16 B of request, the rest in the reply
      // Per miss, not per access: a miss that fetches several units (home-based lazy release's
      // prefetch) moves their bytes in its one round trip, and the accesses it spared miss nothing.
      MPI_Bcast(warm_misses, 2, MPI_DOUBLE, 1, comm);
      const auto per_miss = [&](double bytes, double misses) {
        return std::max<std::size_t>(17, static_cast<std::size_t>(bytes / std::max(1.0, misses))) - 16;
      };
      copy_read_floor = warm_reads.msgs < 0.1 * static_cast<double>(units);
      copy_write_floor = warm_writes.msgs < 0.1 * static_cast<double>(units);
      read_channel = std::make_unique<micro::round_trip_channel>(comm, node_local, 16, per_miss(warm_reads.bytes, warm_misses[0]), 1);
      write_channel = std::make_unique<micro::round_trip_channel>(comm, node_local, 16, per_miss(warm_writes.bytes, warm_misses[1]), 1);
    }
    dsm::barrier();
    if (me == 0)  // rank 1's writes arrived whole
      for (std::size_t u = 0; u < units; ++u) wrong += *write_set(u) != round * 10 + 3;
    dsm::barrier();
  }
  dsm::free(raw);

  // Rank 1 timed everything. Bring it to rank 0.
  double from1[6] = {micro::median(reads.samples), micro::median(writes.samples), micro::median(read_rtts),
                     micro::median(write_rtts), static_cast<double>(reads.samples.size()),
                     static_cast<double>(writes.samples.size())};
  if (me == 1) MPI_Send(from1, 6, MPI_DOUBLE, 0, 3, comm);
  long wrong_all = 0;
  MPI_Allreduce(&wrong, &wrong_all, 1, MPI_LONG, MPI_SUM, comm);
  if (me == 0) {
    MPI_Recv(from1, 6, MPI_DOUBLE, 1, 3, comm, MPI_STATUS_IGNORE);
    const double n = std::max(1.0, from1[4]), n_writes = std::max(1.0, from1[5]);  // the misses timed
    char title[256];
    std::snprintf(title, sizeof title, "micro_remote_miss: unit %zu B, DSM_TRANSPORT=%s (%s path), %zu units x %ld rounds; "
                  "bare fault read %.2f us, write %.2f us; floor's other part %.2f us, %.2f us",
                  unit, transport.c_str(), node_local ? "node-local" : "MPI", units, rounds, fault.read_us,
                  fault.write_us, from1[2], from1[3]);
    micro::print_header(title);
    const std::string model = dsm::model_name(dsm::current_model());
    const std::string copy_what = "memcpy of one unit (" + std::to_string(unit) + " B)";
    const std::string check = wrong_all == 0 ? "every value read and written back as expected"
                                             : std::to_string(wrong_all) + " wrong values";
    micro::row r{.bench = "remote_miss", .op = "read_miss", .model = model, .ranks = dsm::ranks(), .size = opt.size,
                 .median_us = from1[0], .floor_us = fault.read_us + from1[2],
                 .floor = "bare read fault + " + (copy_read_floor ? copy_what : read_channel->what()),
                 .samples = static_cast<long>(n), .msgs_per_op = reads.msgs / n, .bytes_per_op = reads.bytes / n,
                 .verified = wrong_all == 0, .check = check};
    micro::print_row(r);
    r.op = "write_miss";
    r.median_us = from1[1];
    r.floor_us = fault.write_us + from1[3];
    r.floor = "bare write fault + " + (copy_write_floor ? copy_what : write_channel->what());
    r.samples = static_cast<long>(n_writes);
    r.msgs_per_op = writes.msgs / n_writes;
    r.bytes_per_op = writes.bytes / n_writes;
    micro::print_row(r);
  }
  MPI_Comm_free(&comm);
  return wrong_all == 0 ? 0 : 1;
}
