// unit_table.cpp: see unit_table.hpp.
#include "memory/unit_table.hpp"

#include <sys/mman.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <algorithm>

#include "base/invariant.hpp"
#include "base/log.hpp"
#include "dsm/dsm.hpp"

namespace dsm::rt {
namespace {
void* reserve(std::size_t bytes) {
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
  if (p == MAP_FAILED) throw dsm::error(std::string("the unit table could not be reserved: ") + std::strerror(errno));
  return p;
}
int prot_of(access a) {
  return a == access::write ? PROT_READ | PROT_WRITE : a == access::read ? PROT_READ : PROT_NONE;
}
}  // namespace

std::uint64_t unit_table::default_map_budget() {
  std::uint64_t max_maps = 65530;
  if (FILE* f = std::fopen("/proc/sys/vm/max_map_count", "r")) {
    unsigned long long v = 0;
    if (std::fscanf(f, "%llu", &v) == 1 && v > 0) max_maps = v;
    std::fclose(f);
  }
  // Half of the limit for the global space; the rest for MPI, the libraries and the program.
  return max_maps / 2 > 64 ? max_maps / 2 : 64;
}

unit_table::unit_table(const global_space& space, int rank, int ranks, std::uint64_t map_budget, holding at_home,
                       holding elsewhere, homes h)
    : space_(space), rank_(rank), ranks_(ranks), words_((ranks + 63) / 64), units_(space.units()), at_home_(at_home),
      elsewhere_(elsewhere), homes_(h), budget_(map_budget) {
  entries_bytes_ = units_ * sizeof(entry);
  entries_ = static_cast<entry*>(reserve(entries_bytes_));
  copysets_bytes_ = units_ * static_cast<std::uint64_t>(words_) * sizeof(std::uint64_t);
  copysets_ = static_cast<std::uint64_t*>(reserve(copysets_bytes_));
}

unit_table::~unit_table() {
  munmap(entries_, entries_bytes_);
  munmap(copysets_, copysets_bytes_);
}

holding unit_table::state(std::uint64_t u) const {
  DSM_INVARIANT(u < units_, "state of unit %llu of %llu", static_cast<unsigned long long>(u),
                static_cast<unsigned long long>(units_));
  const std::uint8_t s = entries_[u].state;
  DSM_INVARIANT(s <= static_cast<std::uint8_t>(holding::dirty), "unit %llu in state %u", static_cast<unsigned long long>(u), s);
  if (s == 0) return home(u) == rank_ ? at_home_ : elsewhere_;  // an unknown home is -1: elsewhere
  return static_cast<holding>(s);
}

void unit_table::set_state(std::uint64_t u, holding h) {
  DSM_INVARIANT(u < units_ && h >= holding::invalid && h <= holding::dirty, "unit %llu of %llu set to state %d",
                static_cast<unsigned long long>(u), static_cast<unsigned long long>(units_), static_cast<int>(h));
  entries_[u].state = static_cast<std::uint8_t>(h);
  if (!mapped(u)) return;
  if (batching_ > 0) waiting_.push_back(u);
  else apply(u, access_of(h));
}

void unit_table::flush() {
  const auto runs = [this](std::vector<std::uint64_t>& units, bool map) {
    std::sort(units.begin(), units.end());
    units.erase(std::unique(units.begin(), units.end()), units.end());
    // A unit whose state changed and changed back within the batch (a copy dropped and installed
    // again by one release) keeps its protection: no call for it.
    std::erase_if(units, [this](std::uint64_t u) { return effective(u) == access_of(state(u)); });
    std::size_t i = 0;
    while (i < units.size()) {
      const std::uint64_t first = units[i];
      const access want = access_of(state(first));
      std::size_t j = i + 1;
      while (j < units.size() && units[j] == units[j - 1] + 1 && access_of(state(units[j])) == want) ++j;
      apply_run(first, j - i, want, map);
      i = j;
    }
    units.clear();
  };
  runs(waiting_, false);
  runs(to_map_, true);
}

void unit_table::apply_run(std::uint64_t first, std::uint64_t count, access want, bool map) {
  bool all_mapped = true;
  for (std::uint64_t u = first; u < first + count && all_mapped && !map; ++u) all_mapped = mapped(u);
  if (count == 1 || !all_mapped) {  // (an earlier run's reset unmapped them: their next fault maps them)
    for (std::uint64_t u = first; u < first + count; ++u)
      if (map || mapped(u)) apply(u, want);
    return;
  }
  // The bookkeeping unit by unit, then one call for the run. A reset on the way unmaps everything,
  // these units too.
  const std::uint32_t gen = generation_;
  for (std::uint64_t u = first; u < first + count; ++u) {
    const access before = effective(u);
    const std::int64_t delta = runs_delta(u, before, want);
    if (static_cast<std::int64_t>(runs_) + delta > static_cast<std::int64_t>(budget_)) {
      reset_mappings();
      return;
    }
    entries_[u].prot = static_cast<std::uint8_t>(want);
    entries_[u].map_gen = gen;
    runs_ = static_cast<std::uint64_t>(static_cast<std::int64_t>(runs_) + delta);
  }
  if (gen != generation_) return;
  ++calls_;
  if (mprotect(space_.app_unit(first), count * space_.unit(), prot_of(want)) != 0) {
    if (errno != ENOMEM) fatal("mprotect of units %llu..%llu failed: %s", static_cast<unsigned long long>(first),
                               static_cast<unsigned long long>(first + count - 1), std::strerror(errno));
    reset_mappings();
    return;
  }
  DSM_INVARIANT(runs_ <= budget_ && runs_consistent(first), "%llu protection runs counted (budget %llu) at unit %llu",
                static_cast<unsigned long long>(runs_), static_cast<unsigned long long>(budget_),
                static_cast<unsigned long long>(first));
}

void unit_table::map(std::uint64_t u) {
  if (batching_ > 0) to_map_.push_back(u);
  else apply(u, access_of(state(u)));
}

void unit_table::reset(std::uint64_t first, std::uint64_t end) {
  for (std::uint64_t u = first; u < end; ++u) {
    entry& e = entries_[u];
    const bool was_mapped = mapped(u);
    const std::uint8_t prot = e.prot;
    const std::uint32_t gen = e.map_gen;
    e = entry{};
    e.prot = prot;
    e.map_gen = gen;
    std::uint64_t* w = copyset(u);
    for (int i = 0; i < words_; ++i) w[i] = 0;
    if (was_mapped) apply(u, access_of(state(u)));
  }
}

std::int64_t unit_table::runs_delta(std::uint64_t u, access before, access after) const {
  std::int64_t d = 0;
  if (u > 0) d += (effective(u - 1) != after) - (effective(u - 1) != before);
  if (u + 1 < units_) d += (effective(u + 1) != after) - (effective(u + 1) != before);
  return d;
}

void unit_table::apply(std::uint64_t u, access want) {
  access before = effective(u);
  if (before == want) return;
  std::int64_t delta = runs_delta(u, before, want);
  if (static_cast<std::int64_t>(runs_) + delta > static_cast<std::int64_t>(budget_)) {
    reset_mappings();
    if (want == access::none) return;
    before = access::none;
    delta = runs_delta(u, before, want);
  }
  ++calls_;
  if (mprotect(space_.app_unit(u), space_.unit(), prot_of(want)) != 0) {
    if (errno != ENOMEM) fatal("mprotect of unit %llu failed: %s", static_cast<unsigned long long>(u), std::strerror(errno));
    // The process reached vm.max_map_count with mappings that are not the space's: start over.
    reset_mappings();
    if (want == access::none) return;
    before = access::none;
    delta = runs_delta(u, before, want);
    if (mprotect(space_.app_unit(u), space_.unit(), prot_of(want)) != 0)
      fatal("mprotect of unit %llu failed after dropping every mapping: %s", static_cast<unsigned long long>(u),
            std::strerror(errno));
  }
  entries_[u].map_gen = generation_;
  entries_[u].prot = static_cast<std::uint8_t>(want);
  DSM_INVARIANT(static_cast<std::int64_t>(runs_) + delta >= 0, "protection runs would go negative at unit %llu",
                static_cast<unsigned long long>(u));
  runs_ = static_cast<std::uint64_t>(static_cast<std::int64_t>(runs_) + delta);
  DSM_INVARIANT(runs_ <= budget_ && effective(u) == want && runs_consistent(u), "%llu protection runs counted (budget %llu) at unit %llu",
                static_cast<unsigned long long>(runs_), static_cast<unsigned long long>(budget_),
                static_cast<unsigned long long>(u));
}

bool unit_table::runs_consistent(std::uint64_t u) const {
  // Recount the boundaries between units of different protection within kWindow units of u. Where
  // the window covers the whole space the count must equal the running one, else not exceed it.
  constexpr std::uint64_t kWindow = 512;
  const std::uint64_t lo = u > kWindow ? u - kWindow : 0, hi = std::min(units_, u + kWindow);
  std::uint64_t near = 0;
  for (std::uint64_t i = lo + 1; i < hi; ++i) near += effective(i - 1) != effective(i) ? 1 : 0;
  return (lo == 0 && hi == units_) ? near == runs_ : near <= runs_;
}

void unit_table::reset_mappings() {
  ++calls_;
  if (mprotect(space_.app_base(), space_.size(), PROT_NONE) != 0)
    fatal("mprotect of the whole global space failed: %s", std::strerror(errno));
  if (++generation_ == 0) generation_ = 1;  // entries with an older map_gen now read as PROT_NONE
  ++resets_;
  runs_ = 0;
}

int unit_table::owner(std::uint64_t u) const {
  const std::int32_t o = entries_[u].owner;
  DSM_INVARIANT(o >= 0 && o <= ranks_, "unit %llu owned by rank %d of %d", static_cast<unsigned long long>(u), o - 1, ranks_);
  return o == 0 ? home(u) : o - 1;
}

void unit_table::set_owner(std::uint64_t u, int r) {
  materialized(u);
  entries_[u].owner = r + 1;
}

void unit_table::materialized(std::uint64_t u) const {
  // As allocated, the home owns the unit and is its only copy. Write that down before the first
  // change so that the all-zero encoding never has to be interpreted again.
  if (entries_[u].owner != 0) return;
  DSM_INVARIANT(home(u) >= 0, "the copyset of unit %llu, whose home is not known here", static_cast<unsigned long long>(u));
  entries_[u].owner = home(u) + 1;
  std::uint64_t* w = copyset(u);
  for (int i = 0; i < words_; ++i) w[i] = 0;
  w[home(u) / 64] |= std::uint64_t{1} << (home(u) % 64);
}

bool unit_table::in_copyset(std::uint64_t u, int r) const {
  materialized(u);
  return (copyset(u)[r / 64] >> (r % 64)) & 1;
}

void unit_table::add_copy(std::uint64_t u, int r) {
  DSM_INVARIANT(r >= 0 && r < ranks_, "rank %d of %d added to the copyset of unit %llu", r, ranks_,
                static_cast<unsigned long long>(u));
  materialized(u);
  copyset(u)[r / 64] |= std::uint64_t{1} << (r % 64);
}

void unit_table::clear_copyset(std::uint64_t u) {
  materialized(u);
  std::uint64_t* w = copyset(u);
  for (int i = 0; i < words_; ++i) w[i] = 0;
}

}  // namespace dsm::rt
