// locks.hpp: global locks named by an integer, with FIFO hand-off of a token (as in TreadMarks).
//
// The manager of lock `id` is rank id % ranks. It remembers the last rank that asked for the lock
// and forwards each new request to it; that rank passes the token on when it releases (at once, if
// it is not holding it). So requests are granted in the order the manager saw them, a release
// sends at most one message, and re-acquiring a lock this rank released last sends none. try
// acquires are probes: the manager holds other requests for the lock until the last requester says
// whether it passed the token. The token carries nothing under sequential consistency; models that
// need to send data with it attach it through the protocol hooks.
//
// Where ranks share a node (and DSM_NODE_SHM=on), node-mates queue in shared memory instead
// (node_locks): an acquirer swaps itself into the lock's word and forwards its request to the
// node-mate it displaced, with no message to the manager. In a job of one node that replaces the
// manager; across nodes, the first of a run of node-mates asks the manager, which forwards the next
// request from elsewhere (lock_fwd_node) to that representative, which closes the run and hands the
// request to its last rank.
//
// acquire/release/try_acquire run on the application thread; handle() on the engine with state_mu.
#ifndef DSM_RUNTIME_SYNC_LOCKS_HPP_
#define DSM_RUNTIME_SYNC_LOCKS_HPP_

#include <cstdint>
#include <deque>
#include <memory>
#include <optional>
#include <unordered_map>

#include "coherence/protocol.hpp"
#include "engine/context.hpp"
#include "sync/node_locks.hpp"

namespace dsm::rt {

class lock_service {
 public:
  // `node`: this node's shared-memory lock table, or null. `across_nodes`: the job spans nodes, and
  // a manager forwards requests to a node's run (lock_fwd_node) rather than to a rank (lock_fwd).
  lock_service(context& ctx, protocol& proto, std::unique_ptr<node_locks> node, bool across_nodes)
      : ctx_(ctx), proto_(proto), node_(std::move(node)), across_nodes_(across_nodes) {}
  void acquire(std::uint64_t id);
  void release(std::uint64_t id);
  bool try_acquire(std::uint64_t id);
  // A lock this rank holds now, if any (application thread).
  std::optional<std::uint64_t> any_held();
  // True if this rank holds lock id now (application thread).
  bool holds(std::uint64_t id);
  void handle(const header& h, std::span<const std::byte> payload);
  // A reply for the application thread's current lock operation.
  void handle_reply(app_op& op, const header& h);
  // Drops what this rank keeps of lock id, as if it had never been used: for a lock that nobody
  // holds or waits for on any rank (an object being destroyed, after a barrier). False, keeping it,
  // if this rank is its manager and still awaits a probe's result. Takes state_mu.
  bool forget(std::uint64_t id);

 private:
  struct lock_state {
    bool have_token = false;
    bool held = false;
    int next = -1;        // the rank to pass the token to at release
    std::vector<std::byte> next_request;  // what its request carried
    // node_locks: the lock's shared word (null: by message), looked up once
    std::atomic<std::uint64_t>* word = nullptr;
    bool word_known = false;
    // node_locks: this rank re-acquires a lock whose token it keeps while a rank that asked after
    // it has yet to be served: it queues (with this request) once the token has gone to that rank.
    bool requeue = false;
    std::vector<std::byte> requeue_request;
    // node_locks across nodes: this rank's place in the manager's queue is its own, not its node's
    // run (a try that went through the manager): the next forward is for it, not for the run.
    bool outside = false;
    // manager only
    bool probing = false;
    int last = -1;        // the last rank that asked; it has or will have the token
    std::deque<std::pair<header, std::vector<std::byte>>> held_back;  // requests that arrived during a probe
  };
  lock_state& state(std::uint64_t id);
  int manager(std::uint64_t id) const { return static_cast<int>(id % static_cast<std::uint64_t>(ctx_.ranks)); }
  void pass_token(std::uint64_t id, lock_state& s, int to, std::span<const std::byte> request);
  // Application thread, after its request went out: waits for the token (or, for a try, the
  // manager's refusal: false), then holds the lock and hands the token's data to the protocol.
  // `claimed`: a try that claimed the lock from this node's word, whose claim ends now.
  bool await_token(std::uint64_t id, bool try_only, bool claimed);
  // What the protocol sends with a request for a token (sync_payloads). state_mu held.
  std::vector<std::byte> request_data();
  void manager_request(const header& h, std::span<const std::byte> request);
  std::atomic<std::uint64_t>* node_word(std::uint64_t id, lock_state& s);
  // node_locks: queues this rank for lock id behind the node-mate that asked last, or asks the
  // manager if no run is on this node. state_mu held.
  void enqueue(std::uint64_t id, lock_state& s, std::span<const std::byte> request);
  // A request for the token, forwarded to this rank: passes it now if this rank keeps it unused,
  // else at the release. state_mu held.
  void serve(std::uint64_t id, lock_state& s, int origin, std::span<const std::byte> request);
  // The manager's forward to this node's run (lock_fwd_node) or probe (lock_try_fwd). state_mu held.
  void forward_to_run(const header& h, std::span<const std::byte> request);
  void probe_run(const header& h, std::span<const std::byte> request);

  context& ctx_;
  protocol& proto_;
  std::unique_ptr<node_locks> node_;
  bool across_nodes_;
  std::unordered_map<std::uint64_t, lock_state> locks_;
};

// dsm::mutex, whoever serves it: the protocol if it serves locks (entry consistency, with a shared
// mode), else lock_service (every acquire exclusive). Application thread. acquire_mutex is false if
// a try found the lock taken.
bool acquire_mutex(protocol& proto, lock_service& locks, std::uint64_t id, bool exclusive, bool try_only);
void release_mutex(protocol& proto, lock_service& locks, std::uint64_t id, bool exclusive);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_SYNC_LOCKS_HPP_
