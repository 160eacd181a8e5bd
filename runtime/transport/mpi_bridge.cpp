// mpi_bridge.cpp: see mpi_bridge.hpp.
#include "transport/mpi_bridge.hpp"

#include <pthread.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <sys/prctl.h>

#include <algorithm>
#include <chrono>
#include <list>

#include "core/log.hpp"

namespace dsm::rt {
namespace {
constexpr int kTag = 0x44;
using steady = std::chrono::steady_clock;
// How long the thread keeps polling without sleeping after a message moved: a few round trips
// between hosts (30-100 us each over TCP here); measured against 0 and 1 ms in docs/design-notes.md.
constexpr auto kSpin = std::chrono::microseconds(500);
}

void tune_mpi_before_init() {
  setenv("OMPI_MCA_btl_vader_eager_limit", "8192", 0);
  setenv("OMPI_MCA_btl_vader_max_send_size", "65536", 0);
}

mpi_bridge::mpi_bridge(MPI_Comm comm, deliver_fn deliver) : comm_(comm), deliver_(std::move(deliver)) {
  // The program's signals are for its own thread (as the engine's, context::start_engine): the
  // thread starts with every signal blocked.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  thread_ = std::thread([this] { run(); });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

mpi_bridge::~mpi_bridge() { stop(); }

void mpi_bridge::send(int dest, std::span<const std::byte> a, std::span<const std::byte> b) {
  outgoing o{dest, std::vector<std::byte>(a.size() + b.size())};
  std::copy(a.begin(), a.end(), o.bytes.begin());
  std::copy(b.begin(), b.end(), o.bytes.begin() + static_cast<std::ptrdiff_t>(a.size()));
  {
    std::lock_guard<std::mutex> g(mu_);
    queue_.push_back(std::move(o));
  }
  wake_.notify_one();
}

void mpi_bridge::stop() {
  {
    std::lock_guard<std::mutex> g(mu_);
    if (!thread_.joinable()) return;
    stopping_ = true;
  }
  wake_.notify_one();
  thread_.join();
}

void mpi_bridge::run() {
  prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);
  struct in_flight {
    MPI_Request request;
    std::vector<std::byte> bytes;
  };
  std::list<in_flight> sending, receiving;
  unsigned idle = 0;
  auto last_traffic = steady::now();
  for (;;) {
    bool progress = false;
    std::deque<outgoing> batch;
    bool stopping;
    {
      std::lock_guard<std::mutex> g(mu_);
      batch.swap(queue_);
      stopping = stopping_;
    }
    for (outgoing& o : batch) {
      sending.push_back({MPI_REQUEST_NULL, std::move(o.bytes)});
      in_flight& f = sending.back();
      int rc = PMPI_Isend(f.bytes.data(), static_cast<int>(f.bytes.size()), MPI_BYTE, o.dest, kTag, comm_, &f.request);
      if (rc != MPI_SUCCESS) fatal("MPI_Isend to rank %d failed (%d)", o.dest, rc);
      progress = true;
    }
    // Match every message that has arrived; receive without blocking, so that a large message in
    // a rendezvous never holds this thread in a spinning MPI call.
    for (;;) {
      int flag = 0;
      MPI_Message handle;
      MPI_Status st;
      MPI_Improbe(MPI_ANY_SOURCE, kTag, comm_, &flag, &handle, &st);
      if (!flag) break;
      int count = 0;
      MPI_Get_count(&st, MPI_BYTE, &count);
      receiving.push_back({MPI_REQUEST_NULL, std::vector<std::byte>(static_cast<size_t>(count))});
      in_flight& f = receiving.back();
      MPI_Imrecv(f.bytes.data(), count, MPI_BYTE, &handle, &f.request);
      progress = true;
    }
    // Deliver in the order the messages were matched: per-sender order is part of the contract.
    while (!receiving.empty()) {
      int done = 0;
      PMPI_Test(&receiving.front().request, &done, MPI_STATUS_IGNORE);
      if (!done) break;
      deliver_(std::span<const std::byte>(receiving.front().bytes.data(), receiving.front().bytes.size()));
      receiving.pop_front();
      progress = true;
    }
    for (auto it = sending.begin(); it != sending.end();) {
      int done = 0;
      PMPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
      if (done) {
        it = sending.erase(it);
        progress = true;
      } else {
        ++it;
      }
    }
    if (stopping && batch.empty() && sending.empty() && receiving.empty()) {
      std::lock_guard<std::mutex> g(mu_);
      if (queue_.empty()) return;
      continue;
    }
    if (progress) {
      idle = 0;
      last_traffic = steady::now();
      continue;
    }
    ++idle;
    // A transfer under way needs this thread to call MPI again soon, and right after traffic the
    // next message is probably close (a reply, the next request of a burst): yield, for at most
    // kSpin after the last message moved. Then sleep for a sixty-fourth of the time the link has
    // been quiet (20 us to 10 ms): a message that arrives after a quiet time q waits at most about
    // q/64 for this thread, and an idle rank costs about a hundred wake-ups a second. A local send
    // wakes us at once.
    const bool under_way = !sending.empty() || !receiving.empty();
    const auto quiet = steady::now() - last_traffic;
    if (idle < 4 || (under_way && idle < 64) || quiet < kSpin) {
      sched_yield();
      continue;
    }
    const auto pause =
        std::clamp<steady::duration>(quiet / 64, std::chrono::microseconds(20), std::chrono::milliseconds(10));
    std::unique_lock<std::mutex> lock(mu_);
    if (queue_.empty() && !stopping_) wake_.wait_for(lock, pause);
  }
}

}  // namespace dsm::rt
