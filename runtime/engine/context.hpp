// context.hpp: the state of the runtime on one rank, between init and finalize, and the few
// mechanisms every subsystem shares: the protocol lock, posting a message (to another rank or to
// this rank's own engine), and the application thread's wait for the replies of its one operation.
//
// Threads: the application thread (API calls and the SIGSEGV handler) and the engine thread (serves
// this rank's engine inbox). Both hold `state_mu` whenever they read or change protocol state
// (unit table, locks, barrier). The application thread runs one operation at a time (`op_mu`), so
// every message in its inbox belongs to that operation, but one: the other leader's arrivals at the
// next barrier (barrier_swap) may come first, and wait aside until this rank reaches it.
#ifndef DSM_RUNTIME_ENGINE_CONTEXT_HPP_
#define DSM_RUNTIME_ENGINE_CONTEXT_HPP_

#include <mpi.h>

#include <array>
#include <cstdint>
#include <deque>
#include <functional>
#include <initializer_list>
#include <unordered_map>
#include <vector>
#include <memory>
#include <mutex>
#include <thread>

#include "base/options.hpp"
#include "base/stats.hpp"
#include "memory/global_space.hpp"
#include "memory/unit_table.hpp"
#include "topology/topology.hpp"
#include "transport/bulk.hpp"
#include "transport/transport.hpp"

namespace dsm::rt {

// A mutex of the runtime's that knows whether the calling thread holds any such mutex. The fault
// handler asks: a fault taken by a thread that holds one, or that waits for a reply (context::wait),
// can only come from a signal handler of the program's that touched shared memory while its thread
// was inside dsm; serving it would wait for the thread it interrupted. The handler ends the job with
// a message instead (coherence/fault_handler.cpp).
class runtime_mutex {
 public:
  void lock() {
    mu_.lock();
    ++held_;
  }
  void unlock() {
    --held_;
    mu_.unlock();
  }
  bool try_lock() {
    if (!mu_.try_lock()) return false;
    ++held_;
    return true;
  }
  // True if this thread holds a runtime_mutex, or waits for a reply in context::wait.
  static bool busy() noexcept { return held_ > 0 || waiting_ > 0; }
  // context::wait's mark (a scope: entered, then left).
  struct waiting {
    waiting() noexcept { ++waiting_; }
    ~waiting() { --waiting_; }
    waiting(const waiting&) = delete;
    waiting& operator=(const waiting&) = delete;
  };

 private:
  std::mutex mu_;
  static thread_local int held_;
  static thread_local int waiting_;
};

// What the application thread is waiting for; filled in as replies arrive.
struct app_op {
  msg expect_a = msg::kLast;  // the message types that belong to this operation
  msg expect_b = msg::kLast;
  msg expect_c = msg::kLast;
  std::uint64_t id = 0;       // unit, lock or epoch they must name
  bool any_id = false;        // replies about several units (a release's diff acknowledgements)
  // unit grants
  bool granted = false;
  access granted_access = access::none;
  std::uint64_t acks_needed = 0;
  std::uint64_t acks = 0;
  std::uint64_t data_total = 0;
  std::uint64_t data_received = 0;
  // diff pushes (release consistency)
  std::uint64_t homes_needed = 0;
  std::uint64_t homes_acked = 0;
  // locks and barriers
  bool done = false;
  bool failed = false;
  std::uint64_t covered = 0;  // barrier_swap: the ranks whose arrivals it carries
  // bulk payloads being reassembled; `payload` is the last one completed
  bulk_assembly bulk;
  std::vector<std::byte> payload;
  int from = -1;  // the sender of `payload`

  bool unit_complete() const { return granted && acks == acks_needed && data_received == data_total; }
};

class context {
 public:
  options opt;
  int rank = 0;
  int ranks = 1;
  MPI_Comm comm = MPI_COMM_NULL;  // the runtime's own duplicate of MPI_COMM_WORLD
  bool owns_mpi = false;
  counters stats;
  std::unique_ptr<machine> node;  // this node's topology (hwloc)
  placement place;                // DSM_BIND's decision for this rank and its engine thread
  std::unique_ptr<global_space> space;
  std::unique_ptr<unit_table> table;
  std::unique_ptr<transport> net;
  limits lim;

  runtime_mutex state_mu;  // protocol state
  runtime_mutex op_mu;     // one application operation at a time

  // Sends h to rank dest. A message for this rank's own engine is queued and handled by whoever
  // holds state_mu when it drains (so handlers never re-enter themselves). Caller holds state_mu
  // when dest may be this rank's engine.
  void post(int dest, header h, std::span<const std::byte> payload = {}, bool wake = true);
  // Sends a bulk message (see is_bulk) of any size, in fragments, always through the destination's
  // inbox (to this rank's own engine too), never handled inline.
  void post_bulk(int dest, header h, std::span<const std::byte> payload);
  // Posts h with `payload` in pieces of at most `chunk` bytes (one message if it is empty), each
  // carrying the whole size (arg2) and where it starts (offset): unit data, which the receiver puts
  // in place piece by piece. post_bulk splits the same way.
  void post_pieces(int dest, header h, std::span<const std::byte> payload, std::size_t chunk);
  // With DSM_INVARIANTS=1: ends the job if h, with a payload of that many bytes, would fail the
  // receiver's validation. post() and post_bulk() call it; so does anything that calls net->send
  // directly.
  void check_outgoing(int dest, header h, std::size_t payload_bytes) const;
  // Handles one engine message and everything it posts to this rank's own engine. Holds state_mu.
  void handle_engine(const header& h, std::span<const std::byte> payload);

  // Who handles each message type: a service of a layer above (the protocol, locks, barriers,
  // condition variables, arenas) says so at init, before the engine starts (facade/wiring.cpp). A
  // request is handled on the engine thread with state_mu held; a reply on the application thread,
  // for the operation it waits for. A message of a type nobody handles ends the job.
  using request_handler = std::function<void(const header&, std::span<const std::byte>)>;
  using reply_handler = std::function<void(app_op&, const header&, std::span<const std::byte>)>;
  void handle_requests(std::initializer_list<msg> types, const request_handler& handler);
  void handle_replies(std::initializer_list<msg> types, const reply_handler& handler);
  // Application thread: sleeps on its inbox, applying each reply to `op`, until done(op) is true.
  // Replies that came before their operation (a barrier_swap) are applied first.
  template <class Done>
  void wait(app_op& op, Done&& done) {
    const runtime_mutex::waiting mark;
    take_early(op);
    while (!done(op)) receive_app(op);
  }

  // The engine thread: serves requests until every rank has said goodbye.
  void start_engine();
  void stop_engine();  // collective

 private:
  void receive_app(app_op& op);
  void take_reply(app_op& op, const header& h, std::span<const std::byte> payload);
  void take_early(app_op& op);
  void dispatch(const header& h, std::span<const std::byte> payload);
  void drain_local();

  static constexpr std::size_t kTypes = static_cast<std::size_t>(msg::kLast);
  std::array<request_handler, kTypes> requests_;
  std::array<reply_handler, kTypes> replies_;
  std::deque<std::pair<header, std::vector<std::byte>>> local_;  // for this rank's own engine, under state_mu
  // Application thread: the other leader's barrier_swap fragments for a barrier this rank has not
  // reached yet (that leader is one barrier ahead at most: it waits for this rank's arrivals).
  std::deque<std::pair<header, std::vector<std::byte>>> early_;
  bool draining_ = false;
  int goodbyes_ = 0;
  std::thread engine_;
};

// The one context of this process; null outside init/finalize.
extern context* g_ctx;

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_ENGINE_CONTEXT_HPP_
