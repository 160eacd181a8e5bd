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
// Messages matched per inbox and not yet taken, at most.
constexpr std::size_t kMaxMatched = 64;

}  // namespace

std::int64_t steady_ns() noexcept {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(steady::now().time_since_epoch()).count();
}

void tune_mpi_before_init() {
  setenv("OMPI_MCA_btl_vader_eager_limit", "8192", 0);
  setenv("OMPI_MCA_btl_vader_max_send_size", "65536", 0);
}

mpi_bridge::mpi_bridge(MPI_Comm comm) : comm_(comm) { moved(inbox::engine), moved(inbox::app); }

mpi_bridge::~mpi_bridge() { finish(); }

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

bool mpi_bridge::poll(const taker (&takers)[2], bool first_only) {
  // The inboxes this thread may match: those it was given whose lock it gets.
  std::unique_lock<std::mutex> locks[2];
  bool mine[2] = {false, false};
  for (int b = 0; b < 2; ++b) {
    if (takers[b].take == nullptr) continue;
    locks[b] = std::unique_lock<std::mutex>(in_[b].mu, std::try_to_lock);
    mine[b] = locks[b].owns_lock();
  }
  if (!mine[0] && !mine[1]) return false;
  // With both, one probe for any tag: each probe that finds nothing drives Open MPI's progress
  // once more (a poll() of its sockets over TCP), and the engine used to make two per round.
  int tag = mine[0] && mine[1] ? MPI_ANY_TAG : kTag[mine[0] ? 0 : 1];
  bool moved_in[2] = {false, false};
  bool refused[2] = {false, false};
  // Hand on in the order matched: per-sender order is part of the contract. (A completed request
  // is MPI_REQUEST_NULL, which tests as done: one that take() refused is offered again at the
  // next poll, not again in this one.)
  auto hand_on = [&](int b) {
    arrivals& in = in_[b];
    while (!refused[b] && !in.matched.empty()) {
      int done = 0;
      PMPI_Test(&in.matched.front().request, &done, MPI_STATUS_IGNORE);
      if (!done) return;
      if (!takers[b].take(takers[b].ctx, std::span<const std::byte>(in.matched.front().bytes))) {
        refused[b] = true;
        return;
      }
      in.matched.pop_front();
      under_way_.fetch_sub(1);
      moved_in[b] = true;
    }
  };
  for (int b = 0; b < 2; ++b)
    if (mine[b]) hand_on(b);
  // Match what has arrived; receive without blocking, so that a large message never holds the
  // thread in a spinning MPI call. Each message is handed on as soon as it is received, before
  // the next probe (which drives MPI's progress again: 3-4 us over TCP).
  for (;;) {
    if ((mine[0] && in_[0].matched.size() >= kMaxMatched) || (mine[1] && in_[1].matched.size() >= kMaxMatched)) break;
    int flag = 0;
    MPI_Message handle;
    MPI_Status st;
    MPI_Improbe(MPI_ANY_SOURCE, tag, comm_, &flag, &handle, &st);
    if (!flag) break;
    const int b = st.MPI_TAG == kTag[0] ? 0 : st.MPI_TAG == kTag[1] ? 1 : -1;
    if (b < 0) fatal("a message with tag %d on the runtime's communicator, from rank %d", st.MPI_TAG, st.MPI_SOURCE);
    int count = 0;
    MPI_Get_count(&st, MPI_BYTE, &count);
    arrivals& in = in_[b];
    in.matched.push_back({MPI_REQUEST_NULL, std::vector<std::byte>(static_cast<size_t>(count))});
    under_way_.fetch_add(1);
    in_flight& f = in.matched.back();
    MPI_Imrecv(f.bytes.data(), count, MPI_BYTE, &handle, &f.request);
    moved_in[b] = true;
    if (b == 0 && mine[1]) {
      // Handling a message may take a while (a barrier's merge): meanwhile the application thread
      // may match its own replies.
      locks[1].unlock();
      hand_on(0);
      mine[1] = locks[1].try_lock();
      tag = mine[1] ? MPI_ANY_TAG : kTag[0];
      if (mine[1]) hand_on(1);
    } else {
      hand_on(b);
      if (first_only && in_[b].matched.empty()) break;  // handed on
    }
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
      if (sending_.empty()) return;
    }
    sched_yield();
  }
}

}  // namespace dsm::rt
