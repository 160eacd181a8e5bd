// protocol.hpp: one coherence protocol per consistency model, behind one interface.
//
// Detection (the SIGSEGV handler for page-granular units, object handles for objects) ends in
// read_miss(u) or write_miss(u), called on the application thread without state_mu held. The
// protocol's requests are served on the engine thread by handle(), with state_mu held. The
// synchronisation hooks let a model attach work to acquires, releases and barriers (sequential
// consistency needs none). One instance per rank; see each implementation for its messages.
#ifndef DSM_RUNTIME_COHERENCE_PROTOCOL_HPP_
#define DSM_RUNTIME_COHERENCE_PROTOCOL_HPP_

#include <cstdint>
#include <optional>
#include <memory>
#include <span>
#include <vector>

#include "core/context.hpp"
#include "transport/message.hpp"

namespace dsm::rt {

class protocol {
 public:
  virtual ~protocol() = default;
  virtual void read_miss(std::uint64_t u) = 0;
  virtual void write_miss(std::uint64_t u) = 0;
  // Engine side: a request, forward or invalidation about a unit. state_mu held.
  virtual void handle(const header& h, std::span<const std::byte> payload) = 0;
  // Application side: a reply about a unit for the current operation (data arrives here).
  virtual void handle_reply(app_op& op, const header& h, std::span<const std::byte> payload) = 0;
  // Synchronisation points, application thread, op_mu held (one operation at a time), state_mu not.
  virtual void on_acquire(std::uint64_t /*lock*/) {}
  virtual void on_release(std::uint64_t /*lock*/) {}
  virtual void on_barrier() {}
  // Model data carried by lock requests and tokens (lazy release: vector times and write notices;
  // home-based, also diffs and units). acquire_request: application thread, state_mu held.
  // token_for: the token's payload for rank `to`, whose request carried `request`; state_mu held,
  // either thread. on_token: the token from rank `from`; application thread, op_mu held, state_mu not.
  virtual std::vector<std::byte> acquire_request() { return {}; }
  virtual std::vector<std::byte> token_for(int /*to*/, std::span<const std::byte> /*request*/) { return {}; }
  virtual void on_token(int /*from*/, std::span<const std::byte> /*token*/) {}
  // Model data carried by barriers. barrier_arrival: application thread, op_mu held. barrier_merge:
  // rank 0's engine (or, when every rank shares one node, the application thread of the last rank
  // to arrive: sync/node_barrier.hpp), state_mu held, given every rank's arrival, returns every
  // rank's release (or nothing). on_barrier_release: application thread, op_mu held; true asks for a garbage
  // collection, which the barrier then runs: collect_validate on every rank, an internal barrier,
  // collect_discard on every rank.
  virtual std::vector<std::byte> barrier_arrival() { return {}; }
  virtual std::vector<std::vector<std::byte>> barrier_merge(const std::vector<std::vector<std::byte>>& /*arrivals*/) {
    return {};
  }
  virtual bool on_barrier_release(std::span<const std::byte> /*release*/) { return false; }
  virtual void collect_validate() {}
  virtual void collect_discard() {}
  // Collective dsm::free of units [first, end): their memory reads as zero on every rank from now
  // on; whatever this rank wrote there and has not released is dropped.
  virtual void on_free(std::uint64_t /*first*/, std::uint64_t /*end*/) {}
  // True if dsm::free must run a full barrier first (so that every rank knows every interval).
  virtual bool needs_barrier_before_free() { return false; }
  // Collective dsm::free, after that barrier and before any rank zeroes units [first, end): finish
  // what is still on its way to them (home-based lazy release: diffs to their home). op_mu held.
  virtual void before_free(std::uint64_t /*first*/, std::uint64_t /*end*/) {}
  // Collective dsm::mutex::bind, after a barrier, before the range is entered in ctx.bound: bring
  // units [first, end) up to date here and settle what this rank wrote of them, so that nothing
  // written before the bind is lost when the range stops travelling with the unit. op_mu held.
  virtual void settle(std::uint64_t /*first*/, std::uint64_t /*end*/) {}

  // Entry consistency serves dsm::mutex itself (shared and exclusive modes, bound data in the
  // grants); under the other models lock_service does and these are never called. op_mu not held.
  virtual bool serves_locks() const { return false; }
  virtual bool acquire(std::uint64_t /*lock*/, bool /*exclusive*/, bool /*try_only*/) { return false; }
  virtual void release(std::uint64_t /*lock*/, bool /*exclusive*/) {}
  // A lock this rank holds now, if the protocol serves locks (application thread).
  virtual std::optional<std::uint64_t> any_held() { return std::nullopt; }
  // True if this rank holds the lock exclusively now (dsm::condition_variable checks it). state_mu not held.
  virtual bool holds_exclusive(std::uint64_t /*lock*/) { return false; }
  // True if this rank holds the lock in either mode now. state_mu not held.
  virtual bool holds(std::uint64_t /*lock*/) { return false; }
  // As lock_service::forget: drops the lock's state here, false (keeping it) while this rank, its
  // manager, still awaits an answer about it. state_mu not held.
  virtual bool forget_lock(std::uint64_t /*lock*/) { return true; }
  // DSM_CHECK=1: the fault handler reports every write fault here before write_miss, and asks
  // after it whether the unit must lose write access again after this one write (it holds data
  // bound to a lock this rank does not hold exclusively). state_mu not held.
  virtual void check_write(const std::byte* /*addr*/) {}
  virtual bool watch_writes(std::uint64_t /*u*/) { return false; }
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

std::unique_ptr<protocol> make_sequential(context& ctx);
std::unique_ptr<protocol> make_eager_release(context& ctx);
// Lazy release by DSM_LAZY: home-based (HLRC) or homeless (TreadMarks).
std::unique_ptr<protocol> make_lazy_release(context& ctx, const bound_filter* bound = nullptr);
std::unique_ptr<protocol> make_home_lazy_release(context& ctx, const bound_filter* bound);
std::unique_ptr<protocol> make_homeless_lazy_release(context& ctx, const bound_filter* bound);
std::unique_ptr<protocol> make_entry(context& ctx);
// The protocol of ctx.opt.model.
std::unique_ptr<protocol> make_protocol(context& ctx);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_COHERENCE_PROTOCOL_HPP_
