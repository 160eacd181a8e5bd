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
  // Collective dsm::free of units [first, end): their memory reads as zero on every rank from now
  // on; whatever this rank wrote there and has not released is dropped.
  virtual void on_free(std::uint64_t /*first*/, std::uint64_t /*end*/) {}
};

std::unique_ptr<protocol> make_sequential(context& ctx);
std::unique_ptr<protocol> make_eager_release(context& ctx);
// The protocol of ctx.opt.model.
std::unique_ptr<protocol> make_protocol(context& ctx);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_COHERENCE_PROTOCOL_HPP_
