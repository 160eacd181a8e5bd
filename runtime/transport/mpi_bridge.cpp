// mpi_bridge.cpp: see mpi_bridge.hpp.
#include "transport/mpi_bridge.hpp"

#include <sched.h>
#include <stdlib.h>

#include <algorithm>
#include <chrono>

#include "base/log.hpp"

namespace dsm::rt {
namespace {
constexpr int kTag[2] = {0x44, 0x45};  // by inbox
using steady = std::chrono::steady_clock;
// How long the engine keeps polling without sleeping after a message moved: a few round trips
// between hosts (30-100 us each over TCP here); measured against 0 and 1 ms in docs/design-notes.md.
constexpr std::int64_t kSpinNs = 500'000;
constexpr std::int64_t kMinPauseNs = 20'000, kMaxPauseNs = 10'000'000;

}  // namespace

std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

void tune_mpi_before_init() {
  setenv("OMPI_MCA_btl_vader_eager_limit", "8192", 0);
  setenv("OMPI_MCA_btl_vader_max_send_size", "65536", 0);
}

mpi_bridge::mpi_bridge(MPI_Comm comm, std::size_t max_message) : landing_(max_message) {
  // A communicator of its own: the receive takes any tag, and must not take another's message
  // (a rank past its finalize may send its trace to rank 0 before rank 0 stops receiving).
  if (PMPI_Comm_dup(comm, &comm_) != MPI_SUCCESS) fatal("MPI_Comm_dup failed");
  moved(inbox::engine), moved(inbox::app);
  post();
}

void mpi_bridge::post() {
  const int rc = PMPI_Irecv(landing_.data(), static_cast<int>(landing_.size()), MPI_BYTE, MPI_ANY_SOURCE, MPI_ANY_TAG,
                            comm_, &posted_);
  if (rc != MPI_SUCCESS) fatal("MPI_Irecv failed (%d)", rc);
}

mpi_bridge::~mpi_bridge() {
  finish();
  int finalized = 0;
  MPI_Finalized(&finalized);
  if (!finalized) PMPI_Comm_free(&comm_);
}

void mpi_bridge::moved(inbox box) { last_moved_ns_[static_cast<int>(box)].store(steady_ns(), std::memory_order_relaxed); }

bool mpi_bridge::send(int dest, inbox box, std::span<const std::byte> a, std::span<const std::byte> b, bool engine_follows) {
  in_flight f{MPI_REQUEST_NULL, std::vector<std::byte>(a.size() + b.size())};
  std::copy(a.begin(), a.end(), f.bytes.begin());
  std::copy(b.begin(), b.end(), f.bytes.begin() + static_cast<std::ptrdiff_t>(a.size()));
  const int rc = PMPI_Isend(f.bytes.data(), static_cast<int>(f.bytes.size()), MPI_BYTE, dest,
                            kTag[static_cast<int>(box)], comm_, &f.request);
  if (rc != MPI_SUCCESS) fatal("MPI_Isend to rank %d failed (%d)", dest, rc);
  // Whoever sent it, the engine keeps polling a while: what follows may come to it (the next
  // request of a burst; counting only the requests answered to a polling application thread
  // made contended locks 1.4x slower, docs/design-notes.md item 15). Not after a barrier swap:
  // what follows is the other leader's, to the application thread that waits for it.
  if (engine_follows) moved(inbox::engine);
  int done = 0;
  PMPI_Test(&f.request, &done, MPI_STATUS_IGNORE);
  if (done) return false;
  std::lock_guard<std::mutex> g(send_mu_);
  sending_.push_back(std::move(f));  // (moving the vector keeps its buffer where MPI has it)
  under_way_.fetch_add(1);
  return true;
}

bool mpi_bridge::test_sends() {
  if (under_way_.load(std::memory_order_relaxed) == 0) return false;
  bool completed = false;
  std::lock_guard<std::mutex> g(send_mu_);
  for (auto it = sending_.begin(); it != sending_.end();) {
    int done = 0;
    PMPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
    if (!done) {
      ++it;
      continue;
    }
    it = sending_.erase(it);
    under_way_.fetch_sub(1);
    completed = true;
  }
  return completed;
}

bool mpi_bridge::poll(taker take, bool first_only) {
  std::unique_lock<std::mutex> g(receive_mu_, std::try_to_lock);
  if (!g.owns_lock()) return false;
  bool moved_in[2] = {false, false};
  for (;;) {
    if (held_ < 0) {
      // MPI_Test checks again after the progress it drives: what that progress read, it finds.
      int done = 0;
      MPI_Status st;
      const int rc = PMPI_Test(&posted_, &done, &st);
      if (rc != MPI_SUCCESS) fatal("MPI_Test of the MPI path's receive failed (%d)", rc);
      if (!done) break;
      const int b = st.MPI_TAG == kTag[0] ? 0 : st.MPI_TAG == kTag[1] ? 1 : -1;
      if (b < 0) fatal("a message with tag %d on the MPI path's communicator, from rank %d", st.MPI_TAG, st.MPI_SOURCE);
      MPI_Get_count(&st, MPI_BYTE, &held_);
      held_box_ = static_cast<inbox>(b);
      under_way_.fetch_add(1);
    }
    if (!take.take(take.ctx, held_box_, std::span<const std::byte>(landing_.data(), static_cast<size_t>(held_)))) break;
    moved_in[static_cast<int>(held_box_)] = true;
    held_ = -1;
    under_way_.fetch_sub(1);
    post();
    if (first_only) break;
  }
  for (int b = 0; b < 2; ++b)
    if (moved_in[b]) moved(static_cast<inbox>(b));
  return moved_in[0] || moved_in[1];
}

std::int64_t mpi_bridge::pause_ns(bool for_app) const {
  if (under_way_.load(std::memory_order_relaxed) != 0) return 0;
  std::int64_t last = last_moved_ns_[0].load(std::memory_order_relaxed);
  if (for_app) last = std::max(last, last_moved_ns_[1].load(std::memory_order_relaxed));
  const std::int64_t quiet = steady_ns() - last;
  if (quiet < kSpinNs) return 0;
  return std::clamp<std::int64_t>(quiet / 64, kMinPauseNs, kMaxPauseNs);
}

void mpi_bridge::finish() {
  for (;;) {
    test_sends();
    {
      std::lock_guard<std::mutex> g(send_mu_);
      if (sending_.empty()) break;
    }
    sched_yield();
  }
  std::lock_guard<std::mutex> g(receive_mu_);
  if (posted_ != MPI_REQUEST_NULL) {
    PMPI_Cancel(&posted_);  // (a message that arrived since the last poll is dropped: no one waits for it)
    PMPI_Wait(&posted_, MPI_STATUS_IGNORE);
  }
}

}  // namespace dsm::rt
