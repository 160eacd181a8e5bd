// node_homes.hpp: the node-local fast path for unit data. Ranks of one node read each other's home
// copies directly, so that a node-mate's miss is a copy, not a request and a reply.
//
// Every rank's global space is backed by a memfd (global_space). Each node-mate maps the runtime
// view of every other's read-only (opened through /proc/<pid>/fd, so the memory has no name and can
// never be left behind in /dev/shm). Beside it, each rank keeps a directory word per unit it is home
// of, in a Boost.Interprocess segment its node-mates map read-write (the name is unlinked as soon
// as every node-mate has it mapped, before any application code runs):
//
//   bits 0..22   the node-mates that copied the unit this way (node-local index): they hold a copy
//                the home must keep up to date (eager release) or tell about its next write
//                (home-based lazy release), exactly as if they were in its copyset
//   bit 23       private: the home writes the unit without a fault (a unit nobody else holds). Under
//                eager release no copy is taken then (try_copy fails: ask the home). Home-based lazy
//                release lets a mate take one anyway (try_take): the mate enters itself and counts
//                the copy in the home's `taken` word before it copies, and the home, which may have
//                written the unit during the copy, announces it at its next release as if written
//   bits 24..63  a sequence number, odd while the home copy may change under a reader (the home is
//                writing the unit, or its engine is applying a diff to it). 40 bits: a reader would
//                have to sleep through 2^39 changes of one unit (days at a change a microsecond) to
//                see the same number again and accept a torn copy. (With 16 bits, 32,768 changes
//                were enough: under a second of preemption.) So at most 24 ranks of a node share
//                their home copies this way; with more the node's misses go by message.
//
// A reader copies while the number is even and enters itself only if the number has not moved
// meanwhile (a seqlock whose reader commits with a compare-and-swap): so it either gets the home
// copy as it was between two changes, and is told of every later one, or gets nothing and asks the
// home by message, as a rank of another node does. Only the home changes the number, always with
// its protocol lock held; node-mates only add their bit.
//
// After the words, the segment holds the first-touch claims of the units this rank manages (coherence/homes.hpp):
// one word per unit, 0 or the home + 1, set once with a compare-and-swap by whichever node-mate
// claims the unit first (the manager's engine sets it the same way for claims from other nodes),
// and last the `taken` word, how many copies node-mates have taken of private units (try_take),
// with a log of the last kTakenLog of those units, so that the home looks at them alone.
//
// Used by eager release consistency and home-based lazy release, whose homes keep the master copy
// (coherence/eager_release.cpp, coherence/home_lazy_release.cpp). One word per unit of the space:
// with homes decided per unit, any unit may be homed anywhere (the segment is sparse: only the
// words of units a rank is home of are ever touched).
#ifndef DSM_RUNTIME_COHERENCE_NODE_HOMES_HPP_
#define DSM_RUNTIME_COHERENCE_NODE_HOMES_HPP_

#include <mpi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "memory/global_space.hpp"

namespace dsm::rt {

class node_homes {
 public:
  static constexpr int kMaxMates = 23;

  // Collective over `comm` (every rank calls it; each maps only its node-mates). Throws dsm::error,
  // on every rank, if any rank could not set up its own part.
  node_homes(MPI_Comm comm, const global_space& space, int rank, int ranks, std::uint64_t node_ranks);
  ~node_homes();
  node_homes(const node_homes&) = delete;
  node_homes& operator=(const node_homes&) = delete;

  // True if r is another rank of this node whose home copies this rank can read.
  bool readable(int r) const { return r != rank_ && mates_[static_cast<size_t>(r)].view != nullptr; }
  // How many node-mates' home copies this rank reads, and a line for DSM_LOG=info.
  int mates() const;
  const std::string& describe() const { return describe_; }

  // Node-mate side (the caller holds its own protocol lock, so that no diff for u is applied here
  // before its copy is valid). Copies the home copy of u (`bytes` from its start) to `dst` and
  // enters this rank as a copy holder; false if the home copy was changing: ask the home instead.
  // `dst` may have been written when false is returned.
  bool try_copy(std::uint64_t u, int home, std::byte* dst, std::uint64_t bytes);
  // As try_copy, but a private unit is copied too (home-based lazy release): this rank enters itself
  // and counts the copy in the home's `taken` word before copying, so the home's next release
  // announces the unit (see taken_since). A copy that overlapped a write is torn only in bytes
  // written after it began, which that announcement drops before any acquire can make them due.
  bool try_take(std::uint64_t u, int home, std::byte* dst, std::uint64_t bytes);
  // Home side, at a release, after that release's writes (a copy counted later than this began
  // later than them, so it holds them): appends to `units` the units node-mates took copies of
  // since the count was `seen`, and advances `seen`. False if the log cannot say (more copies than
  // it holds, or a copier between its count and its entry): then any private unit may have been
  // taken. Units may be named twice, or be private no longer.
  bool taken_since(std::uint64_t& seen, std::vector<std::uint64_t>& units) const;
  // Home side: true if u is private and a node-mate took a copy of it (try_take).
  bool taken(std::uint64_t u) const {
    const std::uint64_t w = word(u).load(std::memory_order_acquire);
    return (w & kPrivate) != 0 && (w & kMateBits) != 0;
  }

  // Home side, protocol lock held: u's home copy starts / stops changing (mates stay off it).
  void begin_change(std::uint64_t u) { word(u).fetch_add(kSeqOne, std::memory_order_acq_rel); }
  void end_change(std::uint64_t u) { word(u).fetch_add(kSeqOne, std::memory_order_release); }
  // Home side: u becomes private (its writes go unannounced), unless a mate holds a copy (false).
  bool make_private(std::uint64_t u) {
    std::uint64_t w = word(u).load(std::memory_order_acquire);
    do {
      if ((w & kMateBits) != 0) return false;
    } while (!word(u).compare_exchange_weak(w, w | kPrivate, std::memory_order_acq_rel, std::memory_order_acquire));
    return true;
  }
  // Home side: u's home copy takes a fault at its next write again (call after protecting it).
  // True if node-mates took copies while it was private (try_take): the home's writes since may
  // be missing from them, so it must announce u.
  bool make_tracked(std::uint64_t u) {
    const std::uint64_t was = word(u).fetch_and(~kPrivate, std::memory_order_acq_rel);
    return (was & kPrivate) != 0 && (was & kMateBits) != 0;
  }
  // Home side, home-based lazy release: u becomes private although node-mates may hold copies
  // (their entries stay, so the home's next release announces u). True if any did.
  bool force_private(std::uint64_t u) {
    return (word(u).fetch_or(kPrivate, std::memory_order_acq_rel) & kMateBits) != 0;
  }
  // Home side, at a release: if u is private and node-mates took copies of it, forgets them (the
  // release announces u, and the notice drops them) and returns true.
  bool forget_taken(std::uint64_t u) {
    std::uint64_t w = word(u).load(std::memory_order_acquire);
    do {
      if ((w & kPrivate) == 0 || (w & kMateBits) == 0) return false;
    } while (!word(u).compare_exchange_weak(w, w & ~kMateBits, std::memory_order_acq_rel, std::memory_order_acquire));
    return true;
  }
  bool has_copies(std::uint64_t u) const { return (word(u).load(std::memory_order_acquire) & kMateBits) != 0; }
  // Home side, while u is changing: the mates' copies are dropped (a notice tells them), but rank
  // `keep`'s if it is a mate.
  void forget_copies(std::uint64_t u, int keep) {
    std::uint64_t mask = kMateBits;
    if (keep >= 0 && readable(keep)) mask &= ~(std::uint64_t{1} << local_of(keep));
    word(u).fetch_and(~mask, std::memory_order_acq_rel);
  }
  // The words and claims of units [first, end) as allocated (after a collective dsm::free; every
  // rank resets its own).
  void reset(std::uint64_t first, std::uint64_t end) {
    for (std::uint64_t u = first; u < end; ++u) {
      word(u).store(word(u).load(std::memory_order_relaxed) & ~(kMateBits | kPrivate));
      mates_[static_cast<size_t>(rank_)].claims[u].store(0, std::memory_order_relaxed);
    }
  }
  // True if this rank reaches rank r's claims directly (r is this rank or a node-mate).
  bool reaches(int r) const { return r == rank_ || readable(r); }
  // First touch at `manager` (reaches(manager)): makes `claimer` the home of u unless a rank is
  // already; returns the home.
  int claim(int manager, std::uint64_t u, int claimer) {
    std::atomic<std::int32_t>& c = mates_[static_cast<size_t>(manager)].claims[u];
    std::int32_t now = 0;
    if (c.compare_exchange_strong(now, claimer + 1, std::memory_order_acq_rel)) return claimer;
    return now - 1;
  }
  // Home side: the global ranks of the node-mates that hold a copy of u by try_copy.
  template <class Fn>
  void for_each_copy(std::uint64_t u, Fn&& fn) const {
    for (std::uint64_t b = word(u).load(std::memory_order_acquire) & kMateBits; b != 0; b &= b - 1)
      fn(local_to_rank_[static_cast<size_t>(__builtin_ctzll(b))]);
  }

 private:
  static constexpr std::uint64_t kSeqOne = std::uint64_t{1} << (kMaxMates + 1);
  static constexpr std::uint64_t kPrivate = std::uint64_t{1} << kMaxMates;
  static constexpr std::uint64_t kMateBits = kPrivate - 1;
  static_assert(64 - (kMaxMates + 1) >= 40, "the sequence number must not wrap while a reader copies");
  static constexpr std::uint64_t kTakenLog = 1024;  // entries of the taken log

  struct taken_entry {
    std::atomic<std::uint64_t> ticket;  // the count it was written at, + 1
    std::atomic<std::uint64_t> unit;
  };

  int local_of(int r) const {
    for (std::size_t i = 0; i < local_to_rank_.size(); ++i)
      if (local_to_rank_[i] == r) return static_cast<int>(i);
    return -1;
  }

  struct mate {
    const std::byte* view = nullptr;    // its runtime view, read-only
    std::atomic<std::uint64_t>* words = nullptr;  // its directory
    std::atomic<std::int32_t>* claims = nullptr;  // the claims it manages, after the directory
    std::atomic<std::uint64_t>* taken = nullptr;  // copies of its private units taken, after the claims
    taken_entry* log = nullptr;                   // the units of the last kTakenLog of them
    std::size_t dir_bytes = 0;
  };
  std::atomic<std::uint64_t>& word(std::uint64_t u) const {
    return mates_[static_cast<size_t>(rank_)].words[u];
  }

  const global_space& space_;
  int rank_;
  int ranks_;
  int local_ = 0;                    // this rank's node-local index
  std::vector<mate> mates_;          // by global rank; empty entries for other nodes
  std::vector<int> local_to_rank_;   // node-local index -> global rank
  std::string describe_;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_COHERENCE_NODE_HOMES_HPP_
