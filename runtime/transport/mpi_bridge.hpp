// mpi_bridge.hpp: the inter-node path. It has no thread of its own:
//   - the thread that sends a message to a remote rank starts the MPI_Isend itself (on the
//     bridge's communicator, one tag per inbox), and a send that does not complete at once is
//     kept for the engine to move along;
//   - one receive is posted at all times (any source, any tag, into a buffer of the largest
//     message), and every message from a remote rank arrives through it, in the order MPI matches
//     them. The engine thread tests it: it handles what remote ranks sent to it as each message
//     arrives, and drops what they sent to the application thread into its inbox
//     (node_transport.cpp);
//   - an application thread that waits for a reply after a message to a remote rank tests it
//     itself for a while, as the engine would, and takes its replies. A message for the engine
//     it leaves in the buffer, and nothing behind it is received until the engine has handled it,
//     so that a remote rank's message to this engine is handled before the application sees what
//     the same rank sent after it.
// One thread at a time tests the receive (the other one goes on at once), and a message is handed
// on before the next receive is posted: messages from one sender keep their order, and what
// arrives meanwhile waits in MPI (and TCP's flow control). A posted receive completes inside the
// MPI_Test whose progress reads the message off the socket (MPI_Test checks again after its
// progress), where a probe for an unexpected message finds it only at the next call, a round of
// the polling loop later. The receive takes any tag, on a communicator of the bridge's own (a
// duplicate of the runtime's), so it takes no one else's message.
//
// Open MPI offers nothing to sleep on, so the engine polls: pause_ns() says for how long it may
// sleep on its own inbox's futex between polls. It keeps polling (yielding between calls) for 500 us
// after a message moved and while a transfer is under way, when a reply or the next request of a
// burst is likely, then sleeps for a sixty-fourth of the time the link has been quiet, from 20 us up
// to 10 ms (a local message wakes it at once, and so does a local thread whose send did not complete
// at once, or that leaves a message to the engine to send, or that stops polling for its reply, or
// that receives a message for the engine, or whose send to a remote rank finds it asleep for more
// than 50 us still). So a message that follows traffic is handled within a few microseconds, one
// that arrives after a quiet time q waits at most about q/64 (a message over Open MPI's eager
// limit, which needs the receiver's progress twice, about twice that), and an idle rank costs about
// a hundred wake-ups a second (a 3 s wait about 1% of a core with every thread counted,
// tests/mpi/idle_cpu_test.cpp). Measured against its alternatives in docs/design-notes.md, item
// 15. All methods are thread safe.
#ifndef DSM_RUNTIME_TRANSPORT_MPI_BRIDGE_HPP_
#define DSM_RUNTIME_TRANSPORT_MPI_BRIDGE_HPP_

#include <mpi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <list>
#include <mutex>
#include <span>
#include <vector>

#include "transport/message.hpp"

namespace dsm::rt {

// Nanoseconds on the steady clock, as the bridge (pause_ns) and the transport count time.
std::int64_t steady_ns() noexcept;

class mpi_bridge {
 private:
  // What a poll hands a message to: take(ctx, inbox, bytes), false if it cannot take it now.
  struct taker {
    bool (*take)(void* ctx, inbox box, std::span<const std::byte> message) = nullptr;
    void* ctx = nullptr;
    template <class Fn>
    static taker of(Fn& fn) {
      return {[](void* c, inbox b, std::span<const std::byte> m) { return (*static_cast<Fn*>(c))(b, m); }, &fn};
    }
  };

 public:
  // max_message: the largest message a remote rank may send (header and payload). Collective over
  // comm (every rank makes a bridge, or none does), which it duplicates for its own traffic.
  mpi_bridge(MPI_Comm comm, std::size_t max_message);
  ~mpi_bridge();
  mpi_bridge(const mpi_bridge&) = delete;
  mpi_bridge& operator=(const mpi_bridge&) = delete;

  // Starts sending one message (the parts concatenated) to inbox `box` of rank dest. True if it is
  // still under way: someone must call test_sends() until it is not. `engine_follows`: what the
  // message sets off may come to this rank's engine, which keeps polling a while.
  bool send(int dest, inbox box, std::span<const std::byte> a, std::span<const std::byte> b, bool engine_follows);
  // Tests the receive and passes each message that arrived, in the order it arrived, to take(box,
  // bytes), box being the inbox its tag names; take returns false if it cannot take it now (it is
  // offered again at the next poll, and nothing is received behind it meanwhile). Returns false at
  // once if another thread is polling. True if a message was handed on. first_only: return
  // after the first message handed on (the thread that waits for a reply takes it at once instead
  // of testing once more).
  template <class Fn>
  bool poll(Fn&& take, bool first_only) {
    return poll(taker::of(take), first_only);
  }
  // Moves the sends under way along; true if one of them completed.
  bool test_sends();
  // The engine's sleep between polls, in ns: 0 (poll again) within kSpin of the last message moved
  // or while a transfer is under way; else a 64th of the quiet time, 20 us to 10 ms. Messages that
  // arrived for the application count only if `for_app`: while the application thread polls for
  // its replies itself, the engine need not.
  std::int64_t pause_ns(bool for_app) const;
  // Returns once every send has completed, and stops receiving.
  void finish();

 private:
  struct in_flight {
    MPI_Request request = MPI_REQUEST_NULL;
    std::vector<std::byte> bytes;
  };
  bool poll(taker take, bool first_only);
  void post();
  void moved(inbox box);

  MPI_Comm comm_;
  std::mutex receive_mu_;  // held by the thread that polls
  MPI_Request posted_ = MPI_REQUEST_NULL;  // the receive for the next message; none while one is held
  std::vector<std::byte> landing_;         // its buffer: the largest message
  int held_ = -1;                          // bytes of a message received and not yet taken (-1: none)
  inbox held_box_ = inbox::engine;         // and its inbox
  std::mutex send_mu_;
  std::list<in_flight> sending_;  // sends that did not complete at once
  std::atomic<std::size_t> under_way_{0};  // sending_.size() + the message held
  std::atomic<std::int64_t> last_moved_ns_[2];  // steady clock, by inbox
};

// Open MPI settings that help the runtime's traffic, set in the environment (where the launcher and
// the user have not set them) by dsm::init when it starts MPI itself: btl_vader_eager_limit=8192
// and btl_vader_max_send_size=65536, so that a 4 KiB unit and its header go in one eager send
// between ranks of one node (DSM_TRANSPORT=mpi, DSM_NODE_SHM=off) instead of a rendezvous.
void tune_mpi_before_init();

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TRANSPORT_MPI_BRIDGE_HPP_
