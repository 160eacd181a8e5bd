// protocol.hpp: one coherence protocol per consistency model, behind one interface.
//
// Detection (the SIGSEGV handler for page-granular units, object handles for objects) ends in
// read_miss(u) or write_miss(u), called on the application thread without state_mu held. The
// protocol's requests are served on the engine thread by handle(), with state_mu held. A model
// implements those four, overrides the few points it needs (releases, barriers, free and bind), and
// returns the capabilities it has: data that travels with locks and barriers (sync_payloads),
// garbage collection (collection), serving dsm::mutex itself (lock_server). Sequential consistency
// has none of them. One rule of locks per hook, written beside it. One instance per rank; see each
// implementation for its messages, and runtime/README.md for the steps to add a model.
#ifndef DSM_RUNTIME_COHERENCE_PROTOCOL_HPP_
#define DSM_RUNTIME_COHERENCE_PROTOCOL_HPP_

#include <cstdint>
#include <optional>
#include <memory>
#include <span>
#include <vector>

#include "engine/context.hpp"
#include "transport/message.hpp"

namespace dsm::rt {

class node_homes;
class allocator;
class arenas;
class bindings;

// What a protocol may use besides the context. The facade owns them, builds them before the
// protocol and destroys them after it.
struct protocol_parts {
  node_homes* homes = nullptr;      // the node-local fast path for unit data, if in use
  const allocator* heap = nullptr;  // collective allocations: where each places its units (homes)
  const arenas* arena = nullptr;    // every rank's arena: a rank is home of its own (homes)
  const bindings* bound = nullptr;  // ranges bound to locks (dsm::mutex::bind), the same on every rank
};

// Data that travels with locks and barriers (lazy release: vector times and write notices;
// home-based, also diffs and units). Every rank merges what the others send at its acquires and
// barriers.
class sync_payloads {
 public:
  virtual ~sync_payloads() = default;
  // What a lock request carries. Application thread, state_mu held.
  virtual std::vector<std::byte> acquire_request() = 0;
  // The token's payload for rank `to`, whose request carried `request`. Either thread, state_mu held.
  virtual std::vector<std::byte> token_for(int to, std::span<const std::byte> request) = 0;
  // The token from rank `from`. Application thread, op_mu held, state_mu not.
  virtual void on_token(int from, std::span<const std::byte> token) = 0;
  // What this rank's barrier arrival carries. Application thread, op_mu held, state_mu not.
  virtual std::vector<std::byte> barrier_arrival() = 0;
  // Given every rank's arrival, every rank's release (or nothing). Rank 0's engine, or when every
  // rank shares one node the application thread of the last rank to arrive (sync/node_barrier.hpp);
  // state_mu held.
  virtual std::vector<std::vector<std::byte>> barrier_merge(const std::vector<std::vector<std::byte>>& arrivals) = 0;
  // This rank's release. True asks for a garbage collection (the model's collection() is not null),
  // which the barrier then runs. Application thread, op_mu held, state_mu not.
  virtual bool on_barrier_release(std::span<const std::byte> release) = 0;
};

// Garbage collection at a barrier that asked for it: collect_validate on every rank, an internal
// barrier, collect_discard on every rank. Application thread, op_mu held, state_mu not.
class collection {
 public:
  virtual ~collection() = default;
  virtual void collect_validate() = 0;
  virtual void collect_discard() = 0;
};

// Entry consistency serves dsm::mutex itself (shared and exclusive modes, bound data in the
// grants); under the other models lock_service does. Application thread, state_mu not held, and
// op_mu not held except by forget_lock's caller.
class lock_server {
 public:
  virtual ~lock_server() = default;
  virtual bool acquire(std::uint64_t lock, bool exclusive, bool try_only) = 0;
  virtual void release(std::uint64_t lock, bool exclusive) = 0;
  // A lock this rank holds now.
  virtual std::optional<std::uint64_t> any_held() = 0;
  // True if this rank holds the lock exclusively now (dsm::condition_variable checks it).
  virtual bool holds_exclusive(std::uint64_t lock) = 0;
  // True if this rank holds the lock in either mode now.
  virtual bool holds(std::uint64_t lock) = 0;
  // As lock_service::forget: drops the lock's state here, false (keeping it) while this rank, its
  // manager, still awaits an answer about it. op_mu held.
  virtual bool forget_lock(std::uint64_t lock) = 0;
  // DSM_CHECK=1: the fault handler reports every write fault here before write_miss, and asks
  // after it whether the unit must lose write access again after this one write (it holds data
  // bound to a lock this rank does not hold exclusively).
  virtual void check_write(const std::byte* addr) = 0;
  virtual bool watch_writes(std::uint64_t u) = 0;
};

// The protocol of a model: what every model implements, the few points most models need, and the
// capabilities that some have (null where a model has none).
class protocol {
 public:
  virtual ~protocol() = default;

  // ---- Detection (every model). Application thread, state_mu not held.
  virtual void read_miss(std::uint64_t u) = 0;
  virtual void write_miss(std::uint64_t u) = 0;

  // ---- Messages about units (every model). handle: a request, forward or invalidation, on the
  // engine thread (or whichever thread drains this rank's own queue), state_mu held. handle_reply:
  // a reply for the current operation, on the application thread (data arrives here).
  virtual void handle(const header& h, std::span<const std::byte> payload) = 0;
  virtual void handle_reply(app_op& op, const header& h, std::span<const std::byte> payload) = 0;

  // ---- Synchronisation points (release models). Application thread, op_mu held, state_mu not.
  virtual void on_release(std::uint64_t /*lock*/) {}
  virtual void on_barrier() {}

  // ---- Ranges that change status: collective dsm::free and dsm::mutex::bind. Application thread,
  // op_mu held, state_mu not.
  // dsm::free of units [first, end): their memory reads as zero on every rank from now on;
  // whatever this rank wrote there and has not released is dropped.
  virtual void on_free(std::uint64_t /*first*/, std::uint64_t /*end*/) {}
  // True if dsm::free must run a full barrier first (so that every rank knows every interval).
  // Any thread; reads no state.
  virtual bool needs_barrier_before_free() { return false; }
  // After that barrier and before any rank zeroes units [first, end): finish what is still on its
  // way to them (home-based lazy release: diffs to their home).
  virtual void before_free(std::uint64_t /*first*/, std::uint64_t /*end*/) {}
  // dsm::mutex::bind, after a barrier, before the range is entered in the bindings: bring units
  // [first, end) up to date here and settle what this rank wrote of them, so that nothing written
  // before the bind is lost when the range stops travelling with the unit.
  virtual void settle(std::uint64_t /*first*/, std::uint64_t /*end*/) {}

  // ---- Capabilities.
  virtual sync_payloads* payloads() { return nullptr; }   // lazy release, entry
  virtual collection* collector() { return nullptr; }     // homeless lazy release, entry over it
  virtual lock_server* locks() { return nullptr; }        // entry
};

// Lazy release masks what the entry model binds to locks: bytes bound to a lock never enter a diff
// or a write notice, because they travel with the lock instead.
class bound_filter {
 public:
  virtual ~bound_filter() = default;
  // Copies this rank's current bytes of every bound range in unit u into `twin`. state_mu held.
  virtual void mask(std::uint64_t u, std::byte* twin) const = 0;
  // True if every data byte of unit u is bound (its diff would be empty). state_mu held.
  virtual bool covers(std::uint64_t u) const = 0;
  // True if any byte of unit u is bound. state_mu held.
  virtual bool touches(std::uint64_t u) const = 0;
};

// What init sets up for a model before its protocol is built (facade/wiring.cpp).
struct model_setup {
  holding at_home = holding::owner_sole;  // what a unit's home holds of it as allocated
  holding elsewhere = holding::invalid;   // what every other rank holds of it
  unit_table::homes homes = unit_table::homes::fixed;  // fixed (u % ranks) or decided per unit (DSM_HOME)
  bool node_homes = false;                // node-mates may read each other's home copies (node_homes)
  std::uint64_t units_per_message = 1;    // the most units one message carries
  std::uint64_t extra_bytes = 64;         // room in a message for what travels with its units
};

// A model: the setup it needs under the options, and its protocol. Each model's file defines one;
// protocol.cpp lists them.
struct model_entry {
  dsm::model model;
  model_setup (*setup)(const options& o);
  std::unique_ptr<protocol> (*make)(context& ctx, const protocol_parts& parts);
};
extern const model_entry sequential_model;
extern const model_entry eager_release_model;
extern const model_entry lazy_release_model;  // home-based (HLRC) or homeless (TreadMarks) by DSM_LAZY
extern const model_entry entry_model;
// The model of o.model; fatal if this build has none.
const model_entry& model_of(const options& o);

// Lazy release by DSM_LAZY, for entry consistency's unbound data: bytes `bound` reports travel
// with locks instead.
std::unique_ptr<protocol> make_lazy_release(context& ctx, const protocol_parts& parts, const bound_filter* bound);
std::unique_ptr<protocol> make_home_lazy_release(context& ctx, const protocol_parts& parts, const bound_filter* bound);
std::unique_ptr<protocol> make_homeless_lazy_release(context& ctx, const bound_filter* bound);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_COHERENCE_PROTOCOL_HPP_
