// mpi_bridge.hpp: the inter-node path. It has no thread of its own:
//   - the thread that sends a message to a remote rank starts the MPI_Isend itself (on the
//     runtime's communicator, one tag per inbox), and a send that does not complete at once is
//     kept for the engine to move along;
//   - the engine thread receives (MPI_Improbe / MPI_Imrecv): it handles what remote ranks sent to
//     it as each message is matched, and drops what they sent to the application thread into its
//     inbox (node_transport.cpp);
//   - an application thread that waits for a reply after a message to a remote rank receives its
//     own inbox's messages itself for a while (poll(inbox::app), as the engine would).
// One thread at a time matches the messages of an inbox, and hands them on in the order matched, each
// as soon as its receive has completed (before probing for the next), so messages from one sender to
// one inbox keep their order. At most kMaxMatched messages per inbox are
// matched and not yet taken; the rest wait in MPI (and TCP's flow control) until they are. The
// engine, when it can take both inboxes, probes for any tag: one probe drives Open MPI's progress
// once for both (each probe that finds nothing costs a poll() of the sockets over TCP). So nothing
// else may send point-to-point messages on the runtime's communicator while the engine runs (the
// trace's clock exchange and gather run before it starts and after it ends).
//
// Open MPI offers nothing to sleep on, so the engine polls: pause_ns() says for how long it may
// sleep on its own inbox's futex between polls. It keeps polling (yielding between calls) for 500 us
// after a message moved and while a transfer is under way, when a reply or the next request of a
// burst is likely, then sleeps for a sixty-fourth of the time the link has been quiet, from 20 us up
// to 10 ms (a local message wakes it at once, and so does a local thread whose send did not complete
// at once, or that leaves a message to the engine to send, or that stops polling for its reply, or
// whose send to a remote rank finds it asleep for more than 50 us still). So a
// message that follows traffic is handled within a few microseconds, one that arrives after a quiet
// time q waits at most about q/64, and an idle rank costs about a hundred wake-ups a second (a 3 s
// wait about 1% of a core with every thread counted, tests/mpi/idle_cpu_test.cpp). Measured against
// its alternatives in docs/design-notes.md, item 15. All methods are thread safe.
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
  // What a poll hands an inbox's messages to: take(ctx, bytes), false if it cannot take it now.
  struct taker {
    bool (*take)(void* ctx, std::span<const std::byte> message) = nullptr;
    void* ctx = nullptr;
    template <class Fn>
    static taker of(Fn& fn) {
      return {[](void* c, std::span<const std::byte> m) { return (*static_cast<Fn*>(c))(m); }, &fn};
    }
  };

 public:
  explicit mpi_bridge(MPI_Comm comm);
  ~mpi_bridge();
  mpi_bridge(const mpi_bridge&) = delete;
  mpi_bridge& operator=(const mpi_bridge&) = delete;

  // Starts sending one message (the parts concatenated) to inbox `box` of rank dest. True if it is
  // still under way: someone must call test_sends() until it is not. `engine_follows`: what the
  // message sets off may come to this rank's engine, which keeps polling a while.
  bool send(int dest, inbox box, std::span<const std::byte> a, std::span<const std::byte> b, bool engine_follows);
  // Matches what has arrived for inbox `box` and passes each message, in the order matched, to
  // take(bytes), which returns false if it cannot take it now (it is offered again at the next
  // poll, before any later one). Returns false at once if another thread is polling that inbox.
  // True if a message was matched or taken. It returns after the first message it hands on: the
  // thread that waits for a reply takes it at once instead of probing once more (a probe that
  // finds nothing drives MPI's progress: a poll() of the sockets over TCP).
  template <class Fn>
  bool poll(inbox box, Fn&& take) {
    taker takers[2] = {};
    takers[static_cast<int>(box)] = taker::of(take);
    return poll(takers, true);
  }
  // Polls both inboxes at once, with one probe for both where it can take both (one thread at a
  // time matches an inbox): the engine's round.
  template <class FnE, class FnA>
  bool poll_both(FnE&& engine, FnA&& app) {
    const taker takers[2] = {taker::of(engine), taker::of(app)};  // by inbox
    return poll(takers, false);
  }
  // Moves the sends under way along; true if one of them completed.
  bool test_sends();
  // The engine's sleep between polls, in ns: 0 (poll again) within kSpin of the last message moved
  // or while a transfer is under way; else a 64th of the quiet time, 20 us to 10 ms. Messages that
  // arrived for the application count only if `for_app`: while the application thread polls for
  // its replies itself, the engine need not.
  std::int64_t pause_ns(bool for_app) const;
  // Returns once every send has completed.
  void finish();

 private:
  struct in_flight {
    MPI_Request request = MPI_REQUEST_NULL;
    std::vector<std::byte> bytes;
  };
  struct arrivals {
    std::mutex mu;  // held by the thread that polls this inbox
    std::list<in_flight> matched;  // matched, in that order; the first ones may be complete
  };
  // takers by inbox (null: not this inbox); first_only: return once a message was handed on.
  bool poll(const taker (&takers)[2], bool first_only);
  void moved(inbox box);

  MPI_Comm comm_;
  arrivals in_[2];  // indexed by inbox
  std::mutex send_mu_;
  std::list<in_flight> sending_;  // sends that did not complete at once
  std::atomic<std::size_t> under_way_{0};  // sending_.size() + every inbox's matched.size()
  std::atomic<std::int64_t> last_moved_ns_[2];  // steady clock, by inbox
};

// Open MPI settings that help the runtime's traffic, set in the environment (where the launcher and
// the user have not set them) by dsm::init when it starts MPI itself: btl_vader_eager_limit=8192
// and btl_vader_max_send_size=65536, so that a 4 KiB unit and its header go in one eager send
// between ranks of one node (DSM_TRANSPORT=mpi, DSM_NODE_SHM=off) instead of a rendezvous.
void tune_mpi_before_init();

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TRANSPORT_MPI_BRIDGE_HPP_
