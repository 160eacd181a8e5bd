// transport.hpp: how protocol messages move between ranks, behind one interface.
//
// Every rank has two inboxes: one served by its engine thread (requests, forwards, invalidations,
// lock and barrier traffic) and one read by its application thread (the replies it waits for). A
// message goes to the inbox its header names. Ranks of one node exchange messages through
// shared-memory queues with a futex doorbell; ranks on other nodes (or all of them, with
// DSM_TRANSPORT=mpi) through MPI two-sided messages on the runtime's own communicator, one tag per
// inbox (mpi_bridge.hpp): the sending thread starts the send, the engine thread receives and polls
// with a sleeping backoff, and an application thread that waits for a reply from a remote rank
// polls for it itself for a while. So a waiting thread sleeps on a futex in its own inbox, or polls
// for a bounded time. With DSM_CHAOS the receiving side
// holds back and reorders messages and the application thread's sends are delayed (chaos.hpp).
//
// send() is thread safe and never waits, not even for queue space: a message for a full ring waits
// in this rank's memory until its engine thread, in receive(), has moved it into the ring (a sender
// that waited for space could wait for itself, or two engines for each other). receive() is called
// by one thread per inbox. Construction and shutdown are collective.
#ifndef DSM_RUNTIME_TRANSPORT_TRANSPORT_HPP_
#define DSM_RUNTIME_TRANSPORT_TRANSPORT_HPP_

#include <mpi.h>

#include <cstdint>
#include <memory>
#include <span>

#include "base/options.hpp"
#include "base/stats.hpp"
#include "transport/message.hpp"

namespace dsm::rt {

class transport {
 public:
  using handler_fn = void (*)(void* ctx, const header& h, std::span<const std::byte> payload);

  virtual ~transport() = default;
  virtual int rank() const = 0;
  virtual int ranks() const = 0;
  // Largest payload one message may carry; larger data is sent in fragments by the caller.
  virtual std::uint32_t max_payload() const = 0;
  // Sends to the inbox h.to of rank dest (dest may be this rank). Fills in h.src and h.length.
  // wake=false: the receiver need not act before its next message (see shm_queue::push).
  virtual void send(int dest, header h, std::span<const std::byte> payload = {}, bool wake = true) = 0;
  // Wakes the thread sleeping on this rank's own inbox `box`, to look at messages sent with
  // wake=false.
  virtual void ring(inbox box) = 0;
  // While on, messages sent to this rank's own inbox `box` with wake=false wake it all the same.
  virtual void set_attentive(inbox box, bool on) = 0;
  // Sleeps until a message arrives in this rank's inbox `box`, then calls fn on it in place. For
  // the engine inbox it first sends on the messages waiting for ring space; while some still wait,
  // it sleeps briefly and may return without a message.
  virtual void receive(inbox box, handler_fn fn, void* ctx) = 0;
  // Moves messages that wait for ring space into their rings, as far as there is room; true if none
  // is left waiting. Called by the engine thread (receive() does it too).
  virtual bool send_waiting() = 0;
  // Collective: returns once every message sent to another node has left (after the engine ended).
  virtual void shutdown() = 0;
  // A line for DSM_LOG=info: which ranks are reached how.
  virtual const char* describe() const = 0;

  template <class Fn>
  void receive(inbox box, Fn&& fn) {
    receive(box, [](void* c, const header& h, std::span<const std::byte> p) { (*static_cast<Fn*>(c))(h, p); }, &fn);
  }
};

// Collective over `world` (the runtime's duplicated communicator). Counts sent messages in stats.
std::unique_ptr<transport> make_node_transport(MPI_Comm world, const options& opt, std::uint32_t max_payload,
                                               counters& stats);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TRANSPORT_TRANSPORT_HPP_
