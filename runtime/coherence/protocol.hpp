// protocol.hpp: one coherence protocol per consistency model, behind one interface.
//
// Detection (the SIGSEGV handler for page-granular units; object handles later) ends in
// read_miss(u) or write_miss(u), called on the application thread without state_mu held. The
// protocol's requests are served on the engine thread by handle(), with state_mu held. The
// synchronisation hooks let a model attach work to acquires, releases and barriers (sequential
// consistency needs none). One instance per rank; see each implementation for its messages.
#ifndef DSM_RUNTIME_COHERENCE_PROTOCOL_HPP_
#define DSM_RUNTIME_COHERENCE_PROTOCOL_HPP_

#include <cstdint>
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
  // Model data carried by lock requests and tokens (lazy release: vector times and write notices).
  // acquire_request: application thread, state_mu held. token_for: the token's payload for an
  // acquirer whose request carried `request`; state_mu held, either thread. on_token: application
  // thread, op_mu held, state_mu not.
  virtual std::vector<std::byte> acquire_request() { return {}; }
  virtual std::vector<std::byte> token_for(std::span<const std::byte> /*request*/) { return {}; }
  virtual void on_token(std::span<const std::byte> /*token*/) {}
  // Model data carried by barriers. barrier_arrival: application thread, op_mu held. barrier_merge:
  // rank 0's engine, state_mu held, given every rank's arrival, returns every rank's release (or
  // nothing). on_barrier_release: application thread, op_mu held; true asks for a garbage
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
};

std::unique_ptr<protocol> make_sequential(context& ctx);
std::unique_ptr<protocol> make_eager_release(context& ctx);
std::unique_ptr<protocol> make_lazy_release(context& ctx);
// The protocol of ctx.opt.model.
std::unique_ptr<protocol> make_protocol(context& ctx);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_COHERENCE_PROTOCOL_HPP_
