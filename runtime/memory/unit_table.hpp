// unit_table.hpp: the state of every unit on this rank, and the protection of its application view.
//
// A flat array indexed by unit number (reserved with mmap, committed only where touched, 24 bytes
// per unit), plus a copyset bitmap per unit, used where this rank is the unit's home. All-zero bytes
// mean "as allocated": the home owns the unit, zero-filled, and nobody else has a copy.
//
// Homes are either fixed (unit % ranks: sequential consistency, whose homes are managers) or decided
// per unit by the protocol (the release models: DSM_HOME, first touch by default). A decided home is
// unknown here until the protocol records it; a unit whose home is unknown holds `elsewhere`.
//
// Mapping is separate from access: a unit whose data is valid here may still be PROT_NONE because
// the table dropped its mapping to stay under vm.max_map_count (every distinct protection run is a
// kernel mapping). The table counts the runs; when they pass the budget it protects the whole space
// PROT_NONE in one call and lets later faults map units again without any message (a "remap").
//
// Not thread safe: the caller holds the protocol lock around every call.
#ifndef DSM_RUNTIME_MEMORY_UNIT_TABLE_HPP_
#define DSM_RUNTIME_MEMORY_UNIT_TABLE_HPP_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "memory/global_space.hpp"

namespace dsm::rt {

enum class access : std::uint8_t { none = 0, read = 1, write = 2 };

// What this rank holds of a unit (sequential consistency: single writer, many readers).
enum class holding : std::uint8_t {
  invalid = 1,      // no valid copy
  copy = 2,         // a read copy; another rank owns the unit
  owner_shared = 3, // owner, other ranks may hold read copies: read only
  owner_sole = 4,   // owner, no other copy: read and write
  dirty = 5,        // release consistency: a valid copy with a twin, being written
};

inline access access_of(holding h) {
  switch (h) {
    case holding::copy:
    case holding::owner_shared: return access::read;
    case holding::owner_sole:
    case holding::dirty: return access::write;
    default: return access::none;
  }
}

class unit_table {
 public:
  enum class homes { fixed, decided };
  // `at_home` / `elsewhere`: what a rank holds of a unit as allocated, at its home and elsewhere.
  unit_table(const global_space& space, int rank, int ranks, std::uint64_t map_budget,
             holding at_home = holding::owner_sole, holding elsewhere = holding::invalid, homes h = homes::fixed);
  ~unit_table();
  unit_table(const unit_table&) = delete;
  unit_table& operator=(const unit_table&) = delete;

  std::uint64_t units() const { return units_; }
  // The home of u, or -1 if it is decided per unit and not known here yet.
  int home(std::uint64_t u) const {
    if (homes_ == homes::fixed) return static_cast<int>(u % static_cast<std::uint64_t>(ranks_));
    return entries_[u].home - 1;
  }
  void set_home(std::uint64_t u, int r) { entries_[u].home = r + 1; }
  // Units [first, end) as allocated again, on every rank (after a collective dsm::free): state,
  // home, owner, copyset and flags forgotten, protection set to match.
  void reset(std::uint64_t first, std::uint64_t end);

  holding state(std::uint64_t u) const;
  // Changes what this rank holds; a mapped unit is re-protected to match (or unmapped), at once or,
  // inside a batch, when the batch ends.
  void set_state(std::uint64_t u, holding h);
  // While one exists, the protection changes of set_state wait; its end applies them with one
  // mprotect per run of consecutive units that end with the same access. For the bulk changes of
  // a release or an acquire; the caller holds the protocol lock for the batch's whole life and
  // gives the application no access before it ends.
  class batch {
   public:
    explicit batch(unit_table& t) : t_(t) { ++t_.batching_; }
    ~batch() {
      if (--t_.batching_ == 0) t_.flush();
    }
    batch(const batch&) = delete;
    batch& operator=(const batch&) = delete;

   private:
    unit_table& t_;
  };
  // Protects the application view of u to the access its state allows (the fault path). Inside a
  // batch, when the batch ends, with one mprotect per run of consecutive units: units fetched
  // together are mapped together instead of faulting one by one.
  void map(std::uint64_t u);
  // If u's state allows the access, maps it and returns true: the access may go ahead without the
  // protocol (a unit that is valid here but whose mapping was dropped).
  bool map_if_allowed(std::uint64_t u, bool write) {
    const access have = access_of(state(u));
    if (have != access::write && (write || have != access::read)) return false;
    map(u);
    return true;
  }
  bool mapped(std::uint64_t u) const { return effective(u) != access::none; }
  // Takes write access away from a mapped unit without changing its state, so that the next write
  // faults again (DSM_CHECK=1 checks it).
  void drop_write(std::uint64_t u) {
    if (effective(u) == access::write) apply(u, access::read);
  }

  // Home side: the owner and copyset of a unit this rank is home of.
  int owner(std::uint64_t u) const;
  void set_owner(std::uint64_t u, int r);
  bool in_copyset(std::uint64_t u, int r) const;
  void add_copy(std::uint64_t u, int r);
  void clear_copyset(std::uint64_t u);
  // True if a rank other than r is in u's copyset.
  bool copies_besides(std::uint64_t u, int r) const {
    materialized(u);
    const std::uint64_t* w = copyset(u);
    for (int i = 0; i < words_; ++i) {
      const std::uint64_t mine = i == r / 64 ? std::uint64_t{1} << (r % 64) : 0;
      if ((w[i] & ~mine) != 0) return true;
    }
    return false;
  }
  // Home side, home-based release consistency: false while any rank may hold a copy it has not
  // fetched from the home (as allocated every rank reads zeros), true once the copyset is exact.
  bool copies_known(std::uint64_t u) const { return (entries_[u].flags & kCopiesKnown) != 0; }
  void set_copies_known(std::uint64_t u) { entries_[u].flags |= kCopiesKnown; }
  template <class Fn>
  void for_each_copy(std::uint64_t u, Fn&& fn) const {
    materialized(u);
    const std::uint64_t* w = copyset(u);
    for (int i = 0; i < words_; ++i)
      for (std::uint64_t b = w[i]; b != 0; b &= b - 1) fn(i * 64 + __builtin_ctzll(b));
  }
  // The bytes of u that hold data: the whole unit, or less for the last unit of an object (object
  // granularity), whose coherence unit is the object: only those bytes are ever sent or diffed.
  std::uint64_t extent(std::uint64_t u) const {
    return entries_[u].extent != 0 ? entries_[u].extent : space_.unit();
  }
  void set_extent(std::uint64_t u, std::uint64_t bytes) {
    entries_[u].extent = bytes >= space_.unit() ? 0 : static_cast<std::uint32_t>(bytes);
  }
  bool busy(std::uint64_t u) const { return entries_[u].busy != 0; }
  void set_busy(std::uint64_t u, bool b) { entries_[u].busy = b ? 1 : 0; }

  // Counters for tests and DSM_LOG=debug.
  std::uint64_t protection_runs() const { return runs_; }
  std::uint64_t map_resets() const { return resets_; }
  std::uint64_t protection_calls() const { return calls_; }  // mprotect calls on the space
  std::uint64_t map_budget() const { return budget_; }

  // The largest budget that keeps the process under vm.max_map_count.
  static std::uint64_t default_map_budget();

 private:
  static constexpr std::uint8_t kCopiesKnown = 1;
  struct entry {
    std::uint8_t state;     // holding, 0 = as allocated
    std::uint8_t busy;      // home: a request on this unit is in progress
    std::uint8_t prot;      // access applied to the application view in generation map_gen
    std::uint8_t flags;     // kCopiesKnown
    std::uint32_t map_gen;
    std::int32_t owner;     // home: owner rank + 1, 0 = as allocated (the home)
    std::uint32_t extent;   // data bytes, 0 = the whole unit
    std::int32_t home;      // decided homes: home rank + 1, 0 = not known here
    std::uint32_t pad;
  };
  static_assert(sizeof(entry) == 24);

  // The protection the kernel has for u now.
  access effective(std::uint64_t u) const {
    return entries_[u].map_gen == generation_ ? static_cast<access>(entries_[u].prot) : access::none;
  }
  std::int64_t runs_delta(std::uint64_t u, access before, access after) const;
  bool runs_consistent(std::uint64_t u) const;  // for DSM_INVARIANT
  void apply(std::uint64_t u, access want);
  void flush();                                              // a batch's waiting protections
  void apply_run(std::uint64_t first, std::uint64_t count, access want, bool map);
  void reset_mappings();
  std::uint64_t* copyset(std::uint64_t u) const { return copysets_ + u * static_cast<std::uint64_t>(words_); }
  void materialized(std::uint64_t u) const;

  const global_space& space_;
  int rank_;
  int ranks_;
  int words_;
  std::uint64_t units_;
  entry* entries_ = nullptr;
  std::uint64_t* copysets_ = nullptr;
  std::size_t entries_bytes_ = 0;
  std::size_t copysets_bytes_ = 0;
  holding at_home_;
  holding elsewhere_;
  homes homes_;
  std::uint32_t generation_ = 1;
  std::uint64_t runs_ = 0;
  std::uint64_t budget_;
  std::uint64_t resets_ = 0;
  std::uint64_t calls_ = 0;
  int batching_ = 0;                    // batches alive
  std::vector<std::uint64_t> waiting_;  // mapped units whose protection a batch holds back
  std::vector<std::uint64_t> to_map_;   // units a batch maps when it ends, mapped or not
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_MEMORY_UNIT_TABLE_HPP_
