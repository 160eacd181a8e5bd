// migratory: the cost of one critical section on a migratory record, the pattern release
// consistency is built for: a record of `bytes` bytes (256, or one whole unit with bytes=0) at the
// start of its own unit moves from rank to rank under one dsm::mutex. In strict alternation (a
// `turn` word on its own unit, read under the lock) each rank acquires, reads every byte of the
// record and checks it against the value it must have after the critical sections so far, writes
// every byte (b[i] = b[i] * 7 + i + rank + 1, mod 256), and releases. Printed per critical section:
// the median over `reps` timed repetitions (after one warm-up) of the slowest rank's time, and
// messages, bytes and lock acquires from dsm::stats() summed over all ranks and repetitions.
// check=OK when every critical section found the record exactly as expected and so does every rank
// at the end; exit 1 otherwise. The expected record is kept by each rank in private memory (a few
// ns per byte).
// Usage: mpirun -np 2 ./migratory [bytes=256, 0 = one unit] [iters=1000 per repetition] [reps=5]
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>

#include "release_common.hpp"

namespace {

void step(std::uint8_t* b, std::size_t bytes, int rank) {
  for (std::size_t i = 0; i < bytes; ++i) {
    b[i] = static_cast<std::uint8_t>(b[i] * 7u + static_cast<unsigned>(i) + static_cast<unsigned>(rank) + 1u);
  }
}

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  long bytes_arg = bench::arg_or(argc, argv, 1, 256);
  const long iters = bench::arg_or(argc, argv, 2, 1000);
  const long nreps = bench::arg_or(argc, argv, 3, 5);
  const std::size_t unit = dsm::unit_size();
  const std::size_t bytes = bytes_arg <= 0 ? unit : static_cast<std::size_t>(bytes_arg);
  const int me = dsm::rank(), n = dsm::ranks();

  const std::size_t rec_units = (bytes + unit - 1) / unit;
  const std::vector<char*> turn_slot = bench::unit_slots(1);
  const std::vector<char*> rec_slot = bench::unit_slots(1, rec_units);
  long* turn = reinterpret_cast<long*>(turn_slot[0]);
  std::uint8_t* rec = reinterpret_cast<std::uint8_t*>(rec_slot[0]);
  dsm::mutex m{2};
  m.bind(turn, sizeof *turn);  // entry consistency: both travel with the lock
  m.bind(rec, bytes);

  // The record as it must be after `model_at` critical sections (critical section k is rank k %
  // n's).
  std::vector<std::uint8_t> model(bytes, 0);
  long model_at = 0;
  auto advance_to = [&](long k) {
    for (; model_at < k; ++model_at) step(model.data(), bytes, static_cast<int>(model_at % n));
  };

  long seen_wrong = 0;
  long end = 0;
  auto one_rep = [&] {
    end += iters;
    bench::take_turns(m, turn, end, me, n, [&](long s) {
      advance_to(s);
      bool same = true;
      for (std::size_t i = 0; i < bytes; ++i) same &= rec[i] == model[i];
      if (!same) ++seen_wrong;
      step(rec, bytes, me);
    });
  };

  bench::timed_rep(one_rep);
  std::vector<bench::sample> reps;
  for (long r = 0; r < nreps; ++r) reps.push_back(bench::timed_rep(one_rep));

  advance_to(end);
  m.lock();
  bool final_ok = *turn == end;
  for (std::size_t i = 0; i < bytes; ++i) final_ok &= rec[i] == model[i];
  m.unlock();
  if (seen_wrong != 0 || !final_ok) {
    std::fprintf(stderr,
                 "migratory: rank %d: %ld critical sections found a wrong "
                 "record; final %s (turn=%ld, "
                 "expected %ld)\n",
                 me, seen_wrong, final_ok ? "right" : "wrong", *turn, end);
  }
  const bool ok = bench::all_ok(seen_wrong == 0 && final_ok);
  const std::string extra = "bytes=" + std::to_string(bytes) + " iters=" + std::to_string(iters);
  bench::report("migratory", extra.c_str(), iters, reps, ok);
  return ok ? 0 : 1;
}
