// node_locks.cpp: see node_locks.hpp.
#include "sync/node_locks.hpp"

#include <sys/mman.h>

#include <cstddef>
#include <string>
#include <utility>

#include "base/options.hpp"
#include "dsm/dsm.hpp"
#include "memory/node_memory.hpp"

namespace dsm::rt {

node_locks::node_locks(MPI_Comm node_comm, int rank, std::vector<bool> mates) : rank_(rank), mates_(std::move(mates)) {
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "lock words are shared between processes");
  int local = 0;
  MPI_Comm_rank(node_comm, &local);
  resets_ = local == 0;
  std::string why;
  table_ = static_cast<entry*>(map_segment_everywhere(node_comm, job_name(node_comm, "locks"), kCapacity * sizeof(entry), why));
  if (table_ == nullptr) {
    if (!why.empty()) throw dsm::error("the node-local lock table could not be set up (" + why + ")");
    throw peer_error("the node-local lock table could not be set up on another rank");
  }
}

node_locks::~node_locks() {
  if (table_ != nullptr) munmap(table_, kCapacity * sizeof(entry));
}

std::atomic<std::uint64_t>* node_locks::word(std::uint64_t id) {
  const std::uint64_t key = id + 1;  // ids below 2^64 - 1 (user ids stay below 2^62, objects' below 2^63)
  std::size_t i = static_cast<std::size_t>((key * 0x9E3779B97F4A7C15ull) >> 48) % kCapacity;
  for (std::size_t probes = 0; probes < kCapacity; ++probes, i = (i + 1) % kCapacity) {
    std::uint64_t k = table_[i].key.load(std::memory_order_acquire);
    if (k == 0 && table_[i].key.compare_exchange_strong(k, key, std::memory_order_acq_rel)) return &table_[i].word;
    if (k == key) return &table_[i].word;
  }
  return nullptr;  // full, and the lock is not in it: never will be
}

bool node_locks::take_kept(std::atomic<std::uint64_t>& w, int manager) const {
  std::uint64_t v = w.load(std::memory_order_seq_cst);
  // Still the last to have asked: clear the free bit, after which nobody can claim the lock.
  while (last_of(v, manager) == rank_) {
    if (w.compare_exchange_weak(v, encode(rank_, false), std::memory_order_seq_cst)) return true;
  }
  // Displaced. By a rank that queued (its request waits for this release, as on the message path),
  // unless a try is in progress: a try announces itself before it claims, so a claim that
  // displaced this rank is seen here (both seq_cst).
  return tries(w).load(std::memory_order_seq_cst) == 0;
}

int node_locks::enqueue(std::atomic<std::uint64_t>& w, int manager) const {
  return last_of(w.exchange(encode(rank_, false), std::memory_order_acq_rel), manager);
}

int node_locks::take_if_free(std::atomic<std::uint64_t>& w, int manager, std::uint64_t to) const {
  tries(w).fetch_add(1, std::memory_order_seq_cst);
  std::uint64_t v = w.load(std::memory_order_seq_cst);
  while (free_in(v, manager)) {
    if (w.compare_exchange_weak(v, to, std::memory_order_seq_cst)) return last_of(v, manager);
  }
  tries(w).fetch_sub(1, std::memory_order_seq_cst);
  return last_of(v, manager) == kAsk ? kAsk : kBusy;
}

int node_locks::claim_if_free(std::atomic<std::uint64_t>& w, int manager) const {
  return take_if_free(w, manager, encode(rank_, false));
}

void node_locks::mark_free(std::atomic<std::uint64_t>& w) const {
  std::uint64_t v = encode(rank_, false);
  w.compare_exchange_strong(v, encode(rank_, true), std::memory_order_acq_rel);
}

int node_locks::close_run(std::atomic<std::uint64_t>& w, int manager) const {
  return last_of(w.exchange(kAway, std::memory_order_acq_rel), manager);
}

int node_locks::close_run_if_free(std::atomic<std::uint64_t>& w, int manager) const {
  const int last = take_if_free(w, manager, kAway);
  return last == kAsk ? kBusy : last;  // no run here (not expected at a run's first rank): not free
}

}  // namespace dsm::rt
