// node_locks.hpp: the manager's part of every lock in memory shared by the ranks, for a job whose
// ranks all share one node. An acquirer no longer asks the lock's manager who asked last: it swaps
// itself into the lock's word and forwards its request straight to the rank it displaced, which
// passes the token at its release, as before (an MCS queue lock whose hand-off is the token
// message). So a remote acquire costs one message less and no hop through the manager's engine.
//
// A word per lock, in a hash table keyed by the lock id (a Boost.Interprocess segment created by
// rank 0, unlinked once every rank has it mapped):
//
//   0                      the lock as created: its token at its manager, free
//   (last + 1) << 1 | free  `last` asked last (it has the token or will have it); `free`: it has
//                           the token, does not hold the lock, and nobody has asked after it
//
// A try-acquire claims the lock only from a free word (one compare-and-swap), else fails with no
// message; it announces itself first in the entry's count of tries in progress. The token's holder
// re-takes the lock without a message, as on the message path, even when somebody has asked after
// it (that request, when it arrives, waits for this release), unless a try is in progress: then it
// waits for the token to go to whoever displaced it and queues behind, so that a try that claimed
// the lock is never left waiting through the holder's next critical section. When the table is
// full, a lock not in it stays with the message path for good: every rank sees the same. Entries
// are never removed; the locks of objects reuse theirs, since a destroyed object's lock id is given
// to the next object made (runtime/core/api.cpp).
#ifndef DSM_RUNTIME_SYNC_NODE_LOCKS_HPP_
#define DSM_RUNTIME_SYNC_NODE_LOCKS_HPP_

#include <mpi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>

namespace dsm::rt {

class node_locks {
 public:
  // Collective over comm, whose ranks must all share one node. Throws dsm::error (on every rank)
  // if the segment cannot be set up.
  node_locks(MPI_Comm comm, int rank, int ranks);
  ~node_locks();
  node_locks(const node_locks&) = delete;
  node_locks& operator=(const node_locks&) = delete;

  // The word of lock `id`, entered in the table if need be; nullptr if the table is full and the
  // lock is not in it (then the lock goes through its manager by message).
  std::atomic<std::uint64_t>* word(std::uint64_t id);

  // `manager`: the lock's manager (a word of 0 names it).
  // The holder of the token, which does not hold the lock: takes it unless a try may have claimed
  // it from this rank (false: wait for the token to go, then enqueue).
  bool take_kept(std::atomic<std::uint64_t>& w, int manager) const;
  // Queues this rank: returns the rank that asked before it, to forward the request to.
  int enqueue(std::atomic<std::uint64_t>& w, int manager) const;
  // A try-acquire: queues this rank only if the lock is free; the rank to forward to, or -1. After a
  // claim (not -1), the caller ends its try with end_try once the token has arrived.
  int claim_if_free(std::atomic<std::uint64_t>& w, int manager) const;
  void end_try(std::atomic<std::uint64_t>& w) const { tries(w).fetch_sub(1, std::memory_order_seq_cst); }
  // At a release with nobody known to wait: marks the lock free unless somebody asked meanwhile.
  void mark_free(std::atomic<std::uint64_t>& w) const;
  // The lock as created (token at its manager, free, no try in progress), for an id used again
  // after its object was destroyed. Nobody may use the word meanwhile. Its entry keeps its key.
  void reset(std::atomic<std::uint64_t>& w) const {
    tries(w).store(0, std::memory_order_relaxed);
    w.store(0, std::memory_order_release);
  }

  static constexpr std::size_t kCapacity = std::size_t{1} << 16;

 private:
  struct entry {
    std::atomic<std::uint64_t> key;  // lock id + 1; 0: empty
    std::atomic<std::uint64_t> word;
    std::atomic<std::uint64_t> tries;  // try-acquires between their announcement and their token
    std::uint64_t pad;
  };
  static_assert(sizeof(entry) == 32);
  // The entry's count of tries, from its word.
  static std::atomic<std::uint64_t>& tries(std::atomic<std::uint64_t>& w) {
    return reinterpret_cast<entry*>(reinterpret_cast<std::byte*>(&w) - offsetof(entry, word))->tries;
  }
  static std::uint64_t encode(int last, bool free) { return (static_cast<std::uint64_t>(last) + 1) << 1 | (free ? 1 : 0); }
  static int last_of(std::uint64_t w, int manager) { return w == 0 ? manager : static_cast<int>((w >> 1) - 1); }
  static bool free_in(std::uint64_t w) { return w == 0 || (w & 1) != 0; }

  int rank_;
  entry* table_ = nullptr;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_SYNC_NODE_LOCKS_HPP_
