// mpi_bridge.cpp: see mpi_bridge.hpp.
#include "transport/mpi_bridge.hpp"

#include <sched.h>
#include <sys/prctl.h>

#include <chrono>
#include <list>

#include "core/log.hpp"

namespace dsm::rt {
namespace {
constexpr int kTag = 0x44;
}

mpi_bridge::mpi_bridge(MPI_Comm comm, deliver_fn deliver) : comm_(comm), deliver_(std::move(deliver)) {
  thread_ = std::thread([this] { run(); });
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
  std::list<in_flight> sending;
  std::vector<std::byte> buffer;
  unsigned idle = 0;
  for (;;) {
    bool busy = false;
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
      int rc = MPI_Isend(f.bytes.data(), static_cast<int>(f.bytes.size()), MPI_BYTE, o.dest, kTag, comm_, &f.request);
      if (rc != MPI_SUCCESS) fatal("MPI_Isend to rank %d failed (%d)", o.dest, rc);
      busy = true;
    }
    for (;;) {
      int flag = 0;
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, kTag, comm_, &flag, &st);
      if (!flag) break;
      int count = 0;
      MPI_Get_count(&st, MPI_BYTE, &count);
      buffer.resize(static_cast<size_t>(count));
      MPI_Recv(buffer.data(), count, MPI_BYTE, st.MPI_SOURCE, kTag, comm_, MPI_STATUS_IGNORE);
      deliver_(std::span<const std::byte>(buffer.data(), buffer.size()));
      busy = true;
    }
    for (auto it = sending.begin(); it != sending.end();) {
      int done = 0;
      MPI_Test(&it->request, &done, MPI_STATUS_IGNORE);
      if (done) {
        it = sending.erase(it);
        busy = true;
      } else {
        ++it;
      }
    }
    if (stopping && batch.empty() && sending.empty()) {
      std::lock_guard<std::mutex> g(mu_);
      if (queue_.empty()) return;
      continue;
    }
    if (busy) {
      idle = 0;
      continue;
    }
    ++idle;
    if (idle < 16) {
      sched_yield();
      continue;
    }
    // Sleep, longer the longer nothing happens: 20 us doubling to 1 ms. A local send wakes us.
    const unsigned step = idle < 16 + 6 ? idle - 16 : 6;
    auto pause = std::chrono::microseconds(20u << step);
    if (pause > std::chrono::microseconds(1000)) pause = std::chrono::microseconds(1000);
    std::unique_lock<std::mutex> lock(mu_);
    if (queue_.empty() && !stopping_) wake_.wait_for(lock, pause);
  }
}

}  // namespace dsm::rt
