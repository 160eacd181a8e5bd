// node_barrier.cpp: see node_barrier.hpp.
#include "sync/node_barrier.hpp"

#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstring>
#include <string>

#include "base/futex.hpp"
#include "base/log.hpp"
#include "base/options.hpp"
#include "dsm/dsm.hpp"
#include "memory/node_memory.hpp"

namespace dsm::rt {
namespace {

constexpr std::uint64_t kLimit = (std::uint64_t{4} << 30) + 4096;  // the largest payload, as a message's
constexpr std::uint64_t kGrain = std::uint64_t{64} << 10;
constexpr std::uint64_t kFirstMap = kGrain;  // mapped again, larger, as payloads grow

}  // namespace

node_barrier::node_barrier(MPI_Comm comm, int rank, int ranks)
    : rank_(rank), ranks_(ranks), arrivals_(static_cast<size_t>(ranks)), releases_(static_cast<size_t>(ranks)) {
  static_assert(std::atomic<std::uint32_t>::is_always_lock_free, "the barrier's words are shared between processes");
  const std::string name = job_name(comm, "barrier");
  state_bytes_ = (sizeof(shared) + static_cast<std::size_t>(ranks_) * sizeof(slot) + 4095) & ~std::size_t{4095};

  // Local set-up first (the two buffers and the segment), then agree, so that no rank is left
  // waiting for one that failed.
  std::string why;
  buffer& in = arrivals_[static_cast<size_t>(rank_)];
  buffer& out = releases_[static_cast<size_t>(rank_)];
  in.fd = memfd_create("dsm-barrier-arrivals", MFD_CLOEXEC);
  out.fd = memfd_create("dsm-barrier-releases", MFD_CLOEXEC);
  if (in.fd < 0 || out.fd < 0) why = std::string("memfd_create: ") + std::strerror(errno);
  state_ = static_cast<shared*>(map_segment_everywhere(comm, name, state_bytes_, why));
  int mine = why.empty() && state_ != nullptr ? 1 : 0, every = 0;
  MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_MIN, comm);

  // Every rank's buffers, mapped here: this rank's own read-write, the others' read-only.
  const std::vector<node_rank> in_ids = gather_node(comm, rank_, in.fd);
  const std::vector<node_rank> out_ids = gather_node(comm, rank_, out.fd);
  if (every == 1) {
    for (int r = 0; r < ranks_ && why.empty(); ++r) {
      for (auto [ids, bufs] : {std::pair{&in_ids, &arrivals_}, std::pair{&out_ids, &releases_}}) {
        buffer& b = (*bufs)[static_cast<size_t>(r)];
        b.own = r == rank_;
        if (!b.own) b.fd = open_peer_fd((*ids)[static_cast<size_t>(r)], false, why);
        if (!why.empty()) break;
        void* p = mmap(nullptr, kFirstMap, b.own ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED | MAP_NORESERVE, b.fd, 0);
        if (p == MAP_FAILED) {
          why = std::string("mapping rank ") + std::to_string(r) + "'s barrier buffer: " + std::strerror(errno);
          break;
        }
        b.at = static_cast<std::byte*>(p);
        b.mapped = kFirstMap;
      }
    }
  }
  mine = every == 1 && why.empty() ? 1 : 0;
  int all_mapped = 0;
  MPI_Allreduce(&mine, &all_mapped, 1, MPI_INT, MPI_MIN, comm);
  if (all_mapped == 0) {
    unmap();
    if (!why.empty()) throw dsm::error("the node-local barrier could not be set up (" + why + ")");
    throw peer_error("the node-local barrier could not be set up on another rank");
  }
}

node_barrier::~node_barrier() { unmap(); }

void node_barrier::unmap() {
  for (auto* bufs : {&arrivals_, &releases_}) {
    for (buffer& b : *bufs) {
      if (b.at != nullptr) munmap(b.at, b.mapped);
      if (b.fd >= 0) close(b.fd);
      b = buffer{};
    }
  }
  if (state_ != nullptr) munmap(state_, state_bytes_);
  state_ = nullptr;
}

void node_barrier::grow(buffer& b, std::uint64_t bytes) {
  if (bytes <= b.committed) return;
  if (bytes > kLimit) fatal("a collective call's payload of %llu bytes is over the 4 GiB limit", static_cast<unsigned long long>(bytes));
  const std::uint64_t want = std::min(kLimit, (bytes + kGrain - 1) / kGrain * kGrain);
  if (ftruncate(b.fd, static_cast<off_t>(want)) != 0) {
    fatal("no memory for a collective call's payload of %llu bytes: %s", static_cast<unsigned long long>(bytes), std::strerror(errno));
  }
  b.committed = want;
}

std::byte* node_barrier::reach(buffer& b, std::uint64_t bytes) {
  if (bytes <= b.mapped) return b.at;
  std::uint64_t want = b.mapped;
  while (want < bytes) want *= 2;
  void* p = mmap(nullptr, want, b.own ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED | MAP_NORESERVE, b.fd, 0);
  if (p == MAP_FAILED) {
    fatal("no address space to map a collective call's payload of %llu bytes: %s", static_cast<unsigned long long>(bytes),
          std::strerror(errno));
  }
  munmap(b.at, b.mapped);
  b.at = static_cast<std::byte*>(p);
  b.mapped = want;
  DSM_LOG(debug, "a barrier buffer mapped again, %llu bytes, for a payload of %llu", static_cast<unsigned long long>(want),
          static_cast<unsigned long long>(bytes));
  return b.at;
}

bool node_barrier::arrive(const call& c, std::span<const std::byte> payload) {
  waiting_for_ = state_->generation.load(std::memory_order_acquire) + 1;
  buffer& in = arrivals_[static_cast<size_t>(rank_)];
  grow(in, payload.size());
  if (!payload.empty()) std::memcpy(reach(in, payload.size()), payload.data(), payload.size());
  slot& s = slot_of(rank_);
  s.epoch = c.epoch;
  s.kind = c.kind;
  s.arg = c.arg;
  s.arrival_bytes = payload.size();
  return state_->arrived.fetch_add(1, std::memory_order_acq_rel) + 1 == static_cast<std::uint32_t>(ranks_);
}

void node_barrier::wait_arrivals() {
  for (;;) {
    const std::uint32_t n = state_->arrived.load(std::memory_order_acquire);
    if (n == static_cast<std::uint32_t>(ranks_)) return;
    futex_wait(&state_->arrived, n);
  }
}

void node_barrier::wake_leader() { futex_wake(&state_->arrived, 1); }

node_barrier::call node_barrier::call_of(int r) const {
  const slot& s = slot_of(r);
  return {s.epoch, s.kind, s.arg};
}

std::span<const std::byte> node_barrier::arrival_of(int r) {
  const std::uint64_t bytes = slot_of(r).arrival_bytes;
  return {reach(arrivals_[static_cast<size_t>(r)], bytes), bytes};
}

void node_barrier::release(const std::vector<std::vector<std::byte>>& releases) {
  buffer& out = releases_[static_cast<size_t>(rank_)];
  std::uint64_t total = 0;
  for (const auto& r : releases) total += r.size();
  grow(out, total);
  std::byte* to = reach(out, total);
  std::uint64_t at = 0;
  for (int r = 0; r < ranks_; ++r) {
    slot& s = slot_of(r);
    s.release_offset = at;
    s.release_bytes = releases.empty() ? 0 : releases[static_cast<size_t>(r)].size();
    if (s.release_bytes != 0) std::memcpy(to + at, releases[static_cast<size_t>(r)].data(), s.release_bytes);
    at += s.release_bytes;
  }
  state_->merger.store(rank_, std::memory_order_relaxed);
  state_->arrived.store(0, std::memory_order_relaxed);
  state_->generation.fetch_add(1, std::memory_order_release);
  futex_wake(&state_->generation, INT_MAX);
}

void node_barrier::wait() {
  for (;;) {
    const std::uint32_t g = state_->generation.load(std::memory_order_acquire);
    if (g != waiting_for_ - 1) return;
    futex_wait(&state_->generation, g);
  }
}

std::vector<std::byte> node_barrier::my_release() {
  const int merger = state_->merger.load(std::memory_order_relaxed);
  const slot& s = slot_of(rank_);
  const std::byte* from = reach(releases_[static_cast<size_t>(merger)], s.release_offset + s.release_bytes) + s.release_offset;
  return std::vector<std::byte>(from, from + s.release_bytes);
}

}  // namespace dsm::rt
