// node_homes.cpp: see node_homes.hpp.
#include "coherence/node_homes.hpp"

#include <sys/mman.h>

#include <cstring>

#include "base/log.hpp"
#include "dsm/dsm.hpp"
#include "memory/node_memory.hpp"

namespace dsm::rt {

node_homes::node_homes(MPI_Comm comm, const global_space& space, int rank, int ranks, std::uint64_t node_ranks)
    : space_(space), rank_(rank), ranks_(ranks), mates_(static_cast<size_t>(ranks)) {
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "directory words are shared between processes");
  const std::string job = job_name(comm, "homes");
  auto name_of = [&](int r) { return job + "-" + std::to_string(r); };

  MPI_Comm node = split_node(comm, rank_, node_ranks);
  MPI_Comm_rank(node, &local_);
  const std::vector<node_rank> all = gather_node(node, rank_, space_.fd());
  for (const node_rank& id : all) local_to_rank_.push_back(id.rank);

  // This rank's directory first; every rank then learns whether all have one, so none is left
  // waiting for a rank that failed. A node of more ranks than the word has bits goes without.
  // Words, then claims, then the `taken` word and its log (on cache lines of their own).
  const std::size_t taken_at = (space_.units() * 12 + 63) & ~std::size_t{63};
  const std::size_t log_at = taken_at + 64;
  const std::size_t dir_bytes = (log_at + kTakenLog * sizeof(taken_entry) + 4095) & ~std::size_t{4095};
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free && sizeof(taken_entry) == 16, "the taken log is shared");
  auto place = [&](mate& m) {
    std::byte* base = reinterpret_cast<std::byte*>(m.words);
    m.claims = reinterpret_cast<std::atomic<std::int32_t>*>(m.words + space_.units());
    m.taken = reinterpret_cast<std::atomic<std::uint64_t>*>(base + taken_at);
    m.log = reinterpret_cast<taken_entry*>(base + log_at);
    m.dir_bytes = dir_bytes;
  };
  static_assert(std::atomic<std::int32_t>::is_always_lock_free, "claims are shared between processes");
  std::string why;
  mate& self = mates_[static_cast<size_t>(rank_)];
  if (all.size() > static_cast<size_t>(kMaxMates)) {
    why = "more than " + std::to_string(kMaxMates) + " ranks on this node";
  } else {
    self.words = static_cast<std::atomic<std::uint64_t>*>(map_segment(name_of(rank_), true, dir_bytes, why));
    if (self.words != nullptr) place(self);
  }
  int mine = self.words != nullptr ? 1 : 0, every = 0;
  MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_MIN, comm);
  if (every == 0) {
    MPI_Comm_free(&node);
    if (self.words != nullptr) {
      munmap(self.words, self.dir_bytes);
      remove_segment(name_of(rank_));
    }
    if (mine == 0) throw dsm::error("the node-local shared segment could not be set up (" + why + ")");
    throw peer_error("the node-local shared segment could not be set up on another rank");
  }

  // Every node-mate's directory and runtime view. A mate whose memory cannot be opened (another
  // user's process, an address space too small) is reached by message instead, as across nodes.
  for (const node_rank& id : all) {
    if (id.rank == rank_) continue;
    mate& m = mates_[static_cast<size_t>(id.rank)];
    std::string failed;
    void* view = map_peer_fd(id, space_.size(), false, failed);
    if (view != nullptr) {
      m.words = static_cast<std::atomic<std::uint64_t>*>(map_segment(name_of(id.rank), false, dir_bytes, failed));
      if (m.words == nullptr) {
        munmap(view, space_.size());
      } else {
        m.view = static_cast<const std::byte*>(view);
        place(m);
      }
    }
    if (m.view == nullptr) DSM_LOG(warn, "node-local fast path to rank %d left out: %s", id.rank, failed.c_str());
  }
  MPI_Barrier(node);
  remove_segment(name_of(rank_));  // from here on nothing is left in /dev/shm
  MPI_Comm_free(&node);
  describe_ = "node-local fast path: home copies of " + std::to_string(mates()) + " node-mate(s) read directly";
}

node_homes::~node_homes() {
  for (mate& m : mates_) {
    if (m.view != nullptr) munmap(const_cast<std::byte*>(m.view), space_.size());
    if (m.words != nullptr) munmap(m.words, m.dir_bytes);
  }
}

int node_homes::mates() const {
  int n = 0;
  for (int r = 0; r < ranks_; ++r) n += readable(r) ? 1 : 0;
  return n;
}

bool node_homes::try_copy(std::uint64_t u, int home, std::byte* dst, std::uint64_t bytes) {
  const mate& m = mates_[static_cast<size_t>(home)];
  std::atomic<std::uint64_t>& w = m.words[u];
  const std::uint64_t bit = std::uint64_t{1} << local_;
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::uint64_t before = w.load(std::memory_order_acquire);
    if ((before & kSeqOne) != 0) return false;   // the home is writing it: its bytes are not released
    if ((before & kPrivate) != 0) return false;  // the home writes it without a fault: ask it
    std::memcpy(dst, m.view + u * space_.unit(), bytes);
    std::atomic_thread_fence(std::memory_order_acquire);
    // Enter this rank, provided the sequence number has not moved (other mates may enter meanwhile).
    std::uint64_t now = before;
    while (!w.compare_exchange_weak(now, now | bit, std::memory_order_acq_rel, std::memory_order_acquire)) {
      if ((now & ~kMateBits) != (before & ~kMateBits)) break;
    }
    if ((now & ~kMateBits) == (before & ~kMateBits)) return true;
  }
  return false;
}

bool node_homes::try_take(std::uint64_t u, int home, std::byte* dst, std::uint64_t bytes) {
  const mate& m = mates_[static_cast<size_t>(home)];
  std::atomic<std::uint64_t>& w = m.words[u];
  const std::uint64_t bit = std::uint64_t{1} << local_;
  for (int attempt = 0; attempt < 4; ++attempt) {
    std::uint64_t before = w.load(std::memory_order_acquire);
    if ((before & kSeqOne) != 0) return false;  // its engine is applying a diff to it
    if ((before & kPrivate) == 0) return try_copy(u, home, dst, bytes);
    // Enter, then count, then copy: the home reads the count at its release after that release's
    // writes, so a copy it has not counted began after them.
    if ((before & bit) == 0) {
      if (!w.compare_exchange_strong(before, before | bit, std::memory_order_seq_cst, std::memory_order_acquire)) continue;
      before |= bit;
    }
    const std::uint64_t ticket = m.taken->fetch_add(1, std::memory_order_seq_cst);
    taken_entry& e = m.log[ticket % kTakenLog];
    e.unit.store(u, std::memory_order_relaxed);
    e.ticket.store(ticket + 1, std::memory_order_release);
    std::memcpy(dst, m.view + u * space_.unit(), bytes);
    std::atomic_thread_fence(std::memory_order_acquire);
    // Still entered (the home forgets the entries at the release that announces u: then copy
    // again, to be counted for the next one), and no diff applied meanwhile.
    const std::uint64_t after = w.load(std::memory_order_acquire);
    if ((after & ~kMateBits) == (before & ~kMateBits) && (after & bit) != 0) return true;
  }
  return false;
}

bool node_homes::taken_since(std::uint64_t& seen, std::vector<std::uint64_t>& units) const {
  const mate& self = mates_[static_cast<size_t>(rank_)];
  std::atomic_thread_fence(std::memory_order_seq_cst);  // the release's writes come first
  const std::uint64_t now = self.taken->load(std::memory_order_seq_cst);
  const std::uint64_t from = seen;
  seen = now;
  if (now - from > kTakenLog) return false;
  for (std::uint64_t t = from; t < now; ++t) {
    const taken_entry& e = self.log[t % kTakenLog];
    if (e.ticket.load(std::memory_order_acquire) != t + 1) return false;
    const std::uint64_t u = e.unit.load(std::memory_order_relaxed);
    if (e.ticket.load(std::memory_order_acquire) != t + 1) return false;  // overwritten meanwhile
    units.push_back(u);
  }
  return true;
}

}  // namespace dsm::rt
