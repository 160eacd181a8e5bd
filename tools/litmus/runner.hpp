// runner.hpp: runs a litmus program (program.hpp) on the DSM, round after round, and counts the
// outcomes. dsm-litmus and the litmus gtests (tests/conformance) share it, so the programs they run
// are the same text of litmus.json, interpreted the same way.
//
// Process Pi runs on rank i. Each round: rank 0 resets every location to 0, barrier; every rank reads
// every location (the warm-up, so that stale copies exist where a model allows them; each read must
// give 0, or the round counts a stale warm-up), barrier; each rank waits a random short time, runs
// its process, barrier; rank 0 reads the final values. Ranks beyond the program's processes run a
// copy of the last process if it only reads (its registers then make an outcome of their own, in
// that process's place), and otherwise read every location during the round, so that the writers
// have copies to deal with.
//
// Granularity `units`: every location lives on its own coherence unit; accesses are seq_cst atomic_ref
// loads and stores, so neither the compiler nor the processor reorders them and what differs between
// models is the DSM alone. Under the entry model a location named in "ec_binding" is bound to its lock
// (mutex::bind) and the runner's own accesses to it (reset, warm-up, final read) go through that lock.
//
// Granularity `objects`: every location is an object (dsm::object<long>), and the program must be
// lock-protected (every access inside a critical section): a critical section "L l ... U l" opens a
// handle on each location it touches, in location order, for its length (a write handle if it writes
// the location), and the objects' own locks stand in for l. The runner's own accesses open handles.
#ifndef DSM_TOOLS_LITMUS_RUNNER_HPP_
#define DSM_TOOLS_LITMUS_RUNNER_HPP_

#include <cstdint>
#include <map>

#include "program.hpp"

namespace litmus {

enum class granularity { units, objects };

struct run_result {
  std::map<outcome, long> histogram;  // rank 0's; empty on the other ranks
  long stale_warmups = 0;             // every rank's, summed (on every rank)
};

// Runs p for `rounds` rounds; collective, every rank with the same arguments. `lock_base`: the first
// dsm::mutex id of the program's locks (one per lock; fresh ones per program, since entry binds them).
// std::runtime_error if p cannot run at this granularity (an access outside a critical section, for
// objects).
run_result run(const program& p, int rounds, std::uint64_t seed, std::uint64_t lock_base,
               granularity g = granularity::units);

}  // namespace litmus

#endif  // DSM_TOOLS_LITMUS_RUNNER_HPP_
