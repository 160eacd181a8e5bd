// node_locks.hpp: the locks' queues among node-mates, in memory shared by the ranks of one node.
// An acquirer no longer asks the lock's manager who asked last when that rank is a node-mate: it
// swaps itself into the lock's word and forwards its request straight to the rank it displaced,
// which passes the token at its release, as on the message path (an MCS queue lock whose hand-off
// is the token message).
//
// In a job of one node the word replaces the manager. In a job of several nodes each node has its
// own table, and the ranks of a node that queue for a lock one after the other form a **run**: the
// first (its representative) asks the manager, as on the message path, and the rest queue behind it
// in the word with no message off the node. The manager sees one request per run. When it forwards
// the next request (from another node) to the run's representative, that rank closes the run (the
// word goes "away") and hands the request on to the run's last rank, which passes the token when
// it is done; node-mates that ask after that start a new run behind it. So the cross-node queue
// holds one representative per run, and the lock is granted in the order the requests reached the
// queue points: a run takes no request that arrives after a rank of another node asked.
//
// A word per lock, in a hash table keyed by the lock id (a Boost.Interprocess segment created by
// the node's first rank, unlinked once every rank of the node has it mapped):
//
//   0                      the lock as created: on the manager's node, its token at its manager,
//                          free; elsewhere as kAway
//   kAway (1)              no run on this node: an acquirer asks the manager
//   (last + 1) << 1 | free  `last` asked last (it has the token or will have it); `free`: it has
//                           the token, does not hold the lock, and nobody has asked after it
//
// A try-acquire claims the lock only from a free word (one compare-and-swap), else fails with no
// message; it announces itself first in the entry's count of tries in progress. The token's holder
// re-takes the lock without a message, as on the message path, even when somebody has asked after
// it (that request, when it arrives, waits for this release), unless a try is in progress: then it
// waits for the token to go to whoever displaced it and queues behind, so that a try that claimed
// the lock is never left waiting through the holder's next critical section. From a node with no
// run, a try goes to the manager, whose probe the last run's representative answers by claiming
// that run's word the same way. When the table is full, a lock not in it stays with the message
// path for good on this node: every rank of the node sees the same. Entries are never removed; the
// locks of objects reuse theirs, since a destroyed object's lock id is given to the next object
// made (runtime/facade/wiring.cpp).
#ifndef DSM_RUNTIME_SYNC_NODE_LOCKS_HPP_
#define DSM_RUNTIME_SYNC_NODE_LOCKS_HPP_

#include <mpi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <vector>

namespace dsm::rt {

class node_locks {
 public:
  // Collective over node_comm, whose ranks must share one node. `rank`: this rank in the job;
  // `mates`: per rank of the job, whether it is on this node (all true in a job of one node).
  // Throws dsm::error (on every rank of the node) if the segment cannot be set up.
  node_locks(MPI_Comm node_comm, int rank, std::vector<bool> mates);
  ~node_locks();
  node_locks(const node_locks&) = delete;
  node_locks& operator=(const node_locks&) = delete;

  // The word of lock `id`, entered in the table if need be; nullptr if the table is full and the
  // lock is not in it (then the lock goes through its manager by message).
  std::atomic<std::uint64_t>* word(std::uint64_t id);

  // `manager`: the lock's manager (a word of 0 names it, when it is on this node).
  // The holder of the token, which does not hold the lock: takes it unless a try may have claimed
  // it from this rank (false: wait for the token to go, then enqueue).
  bool take_kept(std::atomic<std::uint64_t>& w, int manager) const;
  // Queues this rank: returns the node-mate that asked before it, to forward the request to, or
  // kAsk: no run on this node, this rank starts one and asks the manager.
  int enqueue(std::atomic<std::uint64_t>& w, int manager) const;
  // A try-acquire: queues this rank only if the lock is free; the rank to forward to, kBusy (the
  // lock is taken or queued for on this node), or kAsk (no run on this node: probe the manager,
  // leaving the word as it is). After a claim (a rank), the caller ends its try with end_try once
  // the token has arrived.
  int claim_if_free(std::atomic<std::uint64_t>& w, int manager) const;
  void end_try(std::atomic<std::uint64_t>& w) const { tries(w).fetch_sub(1, std::memory_order_seq_cst); }
  // At a release with nobody known to wait: marks the lock free unless somebody asked meanwhile.
  void mark_free(std::atomic<std::uint64_t>& w) const;
  // The representative of this node's run, on the manager's forward of a request from another
  // node: closes the run and returns its last rank, which is to pass the token on.
  int close_run(std::atomic<std::uint64_t>& w, int manager) const;
  // The representative, on the manager's probe for a try from another node: closes the run if the
  // lock is free and returns its last rank, which is to pass the token to the prober and then end
  // the claim (end_try); kBusy if it is not free.
  int close_run_if_free(std::atomic<std::uint64_t>& w, int manager) const;
  // The lock as created (token at its manager, free, no try in progress), for an id used again
  // after its object was destroyed. Nobody may use the word meanwhile. Its entry keeps its key.
  void reset(std::atomic<std::uint64_t>& w) const {
    tries(w).store(0, std::memory_order_relaxed);
    w.store(0, std::memory_order_release);
  }
  // The rank of the node that resets the node's words (its first).
  bool resets_words() const { return resets_; }

  static constexpr int kAsk = -1;
  static constexpr int kBusy = -2;
  static constexpr std::size_t kCapacity = std::size_t{1} << 16;

 private:
  struct entry {
    std::atomic<std::uint64_t> key;  // lock id + 1; 0: empty
    std::atomic<std::uint64_t> word;
    std::atomic<std::uint64_t> tries;  // try-acquires between their announcement and their token
    std::uint64_t pad;
  };
  static_assert(sizeof(entry) == 32);
  static constexpr std::uint64_t kAway = 1;
  // The entry's count of tries, from its word.
  static std::atomic<std::uint64_t>& tries(std::atomic<std::uint64_t>& w) {
    return reinterpret_cast<entry*>(reinterpret_cast<std::byte*>(&w) - offsetof(entry, word))->tries;
  }
  static std::uint64_t encode(int last, bool free) { return (static_cast<std::uint64_t>(last) + 1) << 1 | (free ? 1 : 0); }
  // Announces a try in the entry's count, then swaps `to` into the word if the lock is free: the
  // rank that had it, else kAsk (no run on this node) or kBusy, the try's announcement withdrawn.
  int take_if_free(std::atomic<std::uint64_t>& w, int manager, std::uint64_t to) const;
  // The manager if it is on this node, else kAsk: what a word of 0 means here.
  int here(int manager) const { return mates_[static_cast<std::size_t>(manager)] ? manager : kAsk; }
  // The rank that asked last on this node, or kAsk if no run is on it.
  int last_of(std::uint64_t w, int manager) const {
    return w == 0 ? here(manager) : w == kAway ? kAsk : static_cast<int>((w >> 1) - 1);
  }
  bool free_in(std::uint64_t w, int manager) const { return w == 0 ? here(manager) >= 0 : w != kAway && (w & 1) != 0; }

  int rank_;
  std::vector<bool> mates_;
  bool resets_ = false;
  entry* table_ = nullptr;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_SYNC_NODE_LOCKS_HPP_
