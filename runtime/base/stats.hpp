// stats.hpp: the per-rank protocol counters (DSM_STATS). Always on: relaxed atomic increments that
// any runtime thread may make. report() is collective at finalize: it gathers every rank's
// counters to rank 0, which prints a table (DSM_STATS=1) or writes JSON (DSM_STATS=path.json).
#ifndef DSM_RUNTIME_BASE_STATS_HPP_
#define DSM_RUNTIME_BASE_STATS_HPP_

#include <mpi.h>

#include <atomic>
#include <cstdint>
#include <string>

#include "dsm/dsm.hpp"

namespace dsm::rt {

#define DSM_STAT_FIELDS(X) \
  X(messages_sent)         \
  X(bytes_sent)            \
  X(read_misses)           \
  X(write_misses)          \
  X(units_fetched)         \
  X(node_copies)           \
  X(twins_created)         \
  X(diffs_created)         \
  X(diffs_applied)         \
  X(invalidations)         \
  X(lock_acquires)         \
  X(remote_lock_acquires)  \
  X(barriers)              \
  X(remaps)                \
  X(pushes_renewed)        \
  X(ring_full_waits)       \
  X(protocol_bytes)        \
  X(lock_records)          \
  X(waiting_peak)

struct counters {
#define DSM_DECLARE(name) std::atomic<std::uint64_t> name{0};
  DSM_STAT_FIELDS(DSM_DECLARE)
#undef DSM_DECLARE

  dsm::statistics snapshot() const noexcept;
};

inline void bump(std::atomic<std::uint64_t>& c, std::uint64_t by = 1) noexcept {
  c.fetch_add(by, std::memory_order_relaxed);
}

// Collective over comm. Writes a table to stdout (table) and/or JSON to path (if non-empty).
void report_stats(const counters& c, MPI_Comm comm, bool table, const std::string& path, const std::string& model);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_BASE_STATS_HPP_
