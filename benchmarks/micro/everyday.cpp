// micro_everyday: what the everyday C++ of dsm costs, each row next to what a program would use
// instead, measured in the same run (micro_common.hpp prints both and their ratio):
//   new_delete      rank 0 makes and frees 64-byte objects with dsm::new_ / dsm::delete_, in batches
//                   of 200, median over the batches. Against: ::operator new / delete of the same
//                   size, timed the same way. No message is expected (msgs_per_op shows it).
//   fetch_add_remote (2+ ranks) rank 0 adds 1 to `words` integers, each in a unit of its own; then
//                   rank 1 adds 1 to each, timing every call: each must take the word's lock from
//                   rank 0. Against: the same done with a lock-protected increment (a dsm::mutex of
//                   the word's own, lock, ++, unlock), interleaved round by round.
//   fetch_add_local rank 0 adds 1 to one word over and over (the lock stays with it). Against: a
//                   lock-protected increment of another word, the same way.
//   cv_handoff      (2+ ranks) ranks 0 and 1 pass a turn back and forth through a
//                   dsm::condition_variable (wait for my turn, give it, notify_one); per hand-off,
//                   from one rank's notify to the other's return from wait with the lock. Against:
//                   the lock-protected increment of fetch_add_remote, a lock that moves from rank 0.
// Under entry consistency every word is bound to its lock (dsm::atomic_ref needs it there), so the
// atomic runs under exactly the lock the increment takes; under the other models the atomic takes
// one of the runtime's own locks, chosen by the word's unit. Each row checks the values it leaves.
// Collective: run it under mpirun at any rank count.
//
// Usage: mpirun -np 2 ./micro_everyday [--size smoke|quick|full]
#include <dsm/dsm.hpp>

#include <condition_variable>
#include <mutex>
#include <new>

#include "micro_common.hpp"
#include "../common/traffic.hpp"

namespace {

using micro::clock_type;
using micro::micros_since;

// The traffic of all ranks while `body` runs on every rank. Collective over comm.
template <class Body>
bench::traffic counted(MPI_Comm comm, Body&& body) {
  const dsm::statistics s0 = dsm::stats();
  body();
  micro::sleepy_barrier(comm);
  return bench::summed_traffic(s0, dsm::stats(), comm);
}

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const micro::options opt = micro::parse_options(argc, argv, "micro_everyday");
  const int me = dsm::rank();
  const int n = dsm::ranks();
  const std::string model = dsm::model_name(dsm::current_model());
  const bool entry = dsm::current_model() == dsm::model::entry;
  MPI_Comm comm;
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  std::vector<micro::row> rows;
  bool all_ok = true;

  // ---- new_delete ----------------------------------------------------------------------------------
  {
    struct object {
      char bytes[64];
    };
    const long batch = 200, batches = opt.reps(100);
    std::vector<double> ours, theirs;
    std::vector<object*> made(static_cast<std::size_t>(batch));
    bool ok = true;
    const bench::traffic c = counted(comm, [&] {
      if (me != 0) return;
      for (long b = 0; b < batches; ++b) {
        const auto t0 = clock_type::now();
        for (auto& p : made) p = dsm::new_<object>();
        for (object* p : made) dsm::delete_(p);
        ours.push_back(micros_since(t0) / static_cast<double>(batch));
        const auto t1 = clock_type::now();
        for (auto& p : made) p = new object;
        std::atomic_signal_fence(std::memory_order_seq_cst);
        for (object* p : made) delete p;
        theirs.push_back(micros_since(t1) / static_cast<double>(batch));
      }
      // The arena gave every block back: the same batch lands where the first one did.
      object* first = dsm::new_<object>();
      dsm::delete_(first);
      object* again = dsm::new_<object>();
      ok = again == first;
      dsm::delete_(again);
    });
    all_ok &= ok;
    const double ops = static_cast<double>(batch * batches);
    rows.push_back({.bench = "everyday", .op = "new_delete", .model = model, .ranks = n, .size = opt.size,
                    .median_us = micro::median(ours), .floor_us = micro::median(theirs),
                    .floor = "operator new+delete, 64 bytes", .samples = batches, .msgs_per_op = c.msgs / ops,
                    .bytes_per_op = c.bytes / ops, .verified = ok, .check = ok ? "freed blocks reused" : "a freed block was not reused"});
  }

  // ---- fetch_add_remote and fetch_add_local --------------------------------------------------------
  const std::size_t words = opt.size == "smoke" ? 20 : 100;
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  long* atomics = dsm::alloc<long>(words * per_unit);  // word k at atomics[k * per_unit]: a unit each
  long* counters = dsm::alloc<long>(words * per_unit);
  auto counter_lock = [&](std::size_t k) { return static_cast<std::uint64_t>(70000 + k); };
  auto atomic_lock = [&](std::size_t k) { return static_cast<std::uint64_t>(90000 + k); };
  for (std::size_t k = 0; k < words; ++k) {
    dsm::mutex{counter_lock(k)}.bind(&counters[k * per_unit], sizeof(long));
    if (entry) dsm::mutex{atomic_lock(k)}.bind(&atomics[k * per_unit], sizeof(long));
  }
  auto atomic_add = [&](std::size_t k) { dsm::atomic_ref<long>(atomics[k * per_unit]).fetch_add(1); };
  auto locked_add = [&](std::size_t k) {
    dsm::mutex m{counter_lock(k)};
    std::lock_guard g(m);
    ++counters[k * per_unit];
  };
  long expected = 0;  // per word, after every row
  double lock_moves_us = 0.0;  // fetch_add_remote's lock-protected increment, the cv row's reference
  if (n >= 2) {
    const long rounds = opt.reps(3);
    std::vector<double> ours, theirs;
    bench::traffic ours_traffic;
    for (long round = 0; round < rounds; ++round) {
      for (int variant = 0; variant < 2; ++variant) {
        if (me == 0)
          for (std::size_t k = 0; k < words; ++k) variant == 0 ? atomic_add(k) : locked_add(k);
        micro::sleepy_barrier(comm);
        const bench::traffic c = counted(comm, [&] {
          if (me != 1) return;
          for (std::size_t k = 0; k < words; ++k) {
            const auto t0 = clock_type::now();
            variant == 0 ? atomic_add(k) : locked_add(k);
            (variant == 0 ? ours : theirs).push_back(micros_since(t0));
          }
        });
        if (variant == 0) ours_traffic.msgs += c.msgs, ours_traffic.bytes += c.bytes;
      }
      expected += 2;
    }
    const double made = static_cast<double>(words) * static_cast<double>(rounds);
    lock_moves_us = micro::from_rank1(comm, micro::median(theirs));
    rows.push_back({.bench = "everyday", .op = "fetch_add_remote", .model = model, .ranks = n, .size = opt.size,
                    .median_us = micro::from_rank1(comm, micro::median(ours)),
                    .floor_us = micro::from_rank1(comm, micro::median(theirs)),
                    .floor = "lock; ++; unlock (lock moves from rank 0)", .samples = static_cast<long>(made),
                    .msgs_per_op = ours_traffic.msgs / made, .bytes_per_op = ours_traffic.bytes / made});
  }
  {
    const long batch = 200, batches = opt.reps(50);
    std::vector<double> ours, theirs;
    const bench::traffic c = counted(comm, [&] {
      if (me != 0) return;
      for (long b = 0; b < batches; ++b) {
        auto t0 = clock_type::now();
        for (long i = 0; i < batch; ++i) atomic_add(0);
        ours.push_back(micros_since(t0) / static_cast<double>(batch));
        t0 = clock_type::now();
        for (long i = 0; i < batch; ++i) locked_add(0);
        theirs.push_back(micros_since(t0) / static_cast<double>(batch));
      }
    });
    const double ops = static_cast<double>(batch * batches);
    rows.push_back({.bench = "everyday", .op = "fetch_add_local", .model = model, .ranks = n, .size = opt.size,
                    .median_us = micro::median(ours), .floor_us = micro::median(theirs),
                    .floor = "lock; ++; unlock (the lock stays here)", .samples = batches,
                    .msgs_per_op = c.msgs / ops, .bytes_per_op = c.bytes / ops});
  }
  if (n >= 2) {
    // ---- cv_handoff ----------------------------------------------------------------------------------
    const long rounds = opt.reps(100);
    long* turn = dsm::alloc<long>(1);
    dsm::mutex m{95000};
    m.bind(turn, sizeof *turn);
    dsm::condition_variable cv{95001};
    long handoffs = 0;
    double us = 0.0;
    const bench::traffic c = counted(comm, [&] {
      if (me > 1) return;
      const auto t0 = clock_type::now();
      for (long i = 0; i < rounds; ++i) {
        std::unique_lock<dsm::mutex> lk(m);
        cv.wait(lk, [&] { return *turn == me; });
        *turn = 1 - me;
        ++handoffs;
        cv.notify_one();
      }
      us = micros_since(t0);
    });
    const double made = 2.0 * static_cast<double>(rounds);
    const bool ok = me > 1 || micro::from_rank1(comm, static_cast<double>(handoffs)) == static_cast<double>(rounds);
    all_ok &= ok;
    rows.push_back({.bench = "everyday", .op = "cv_handoff", .model = model, .ranks = n, .size = opt.size,
                    .median_us = micro::from_rank1(comm, us) / made, .floor_us = lock_moves_us,
                    .floor = "lock; ++; unlock (lock moves from rank 0)", .samples = static_cast<long>(made),
                    .msgs_per_op = c.msgs / made, .bytes_per_op = c.bytes / made, .verified = ok,
                    .check = ok ? "every turn passed" : "turns lost"});
    dsm::barrier();
    dsm::free(turn);
  }

  // Every increment counted: word 0 took batch * batches more on rank 0, in each of the two ways.
  dsm::barrier();
  long wrong = 0;
  for (std::size_t k = 0; k < words; ++k) {
    const long extra = k == 0 ? 200 * opt.reps(50) : 0;
    const long a = dsm::atomic_ref<long>(atomics[k * per_unit]).load();
    long b;
    {
      dsm::mutex m{counter_lock(k)};
      std::lock_guard g(m);
      b = counters[k * per_unit];
    }
    wrong += a != expected + extra || b != expected + extra;
  }
  const bool counted_ok = wrong == 0;
  all_ok &= counted_ok;
  for (micro::row& r : rows) {
    if (r.op.rfind("fetch_add", 0) == 0) {
      r.verified = counted_ok;
      r.check = counted_ok ? "every increment counted, both ways" : std::to_string(wrong) + " words wrong";
    }
  }
  dsm::barrier();
  dsm::free(counters);
  dsm::free(atomics);

  if (me == 0) {
    char title[96];
    std::snprintf(title, sizeof title, "micro_everyday: %d ranks", n);
    micro::print_header(title);
    for (const micro::row& r : rows) micro::print_row(r);
  }
  MPI_Comm_free(&comm);
  return all_ok ? 0 : 1;
}
