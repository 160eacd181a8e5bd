// mpi_bridge.hpp: the inter-node path. One thread owns every MPI call of the runtime after init:
// it sends what other threads queue for remote ranks (MPI_Isend on the runtime's communicator),
// receives what remote ranks send (MPI_Iprobe / MPI_Recv) and drops it into the local inboxes.
//
// Open MPI offers nothing to sleep on, so the thread polls: it keeps polling (yielding between
// calls) for 500 us after a message moved, when a reply or the next request of a burst is likely,
// then sleeps on a condition variable (woken at once when a local thread queues a message) for a
// sixty-fourth of the time the link has been quiet, from 20 us up to 10 ms. So a message that
// follows traffic is handled within a few microseconds, one that arrives after a quiet time q waits
// at most about q/64, and an idle rank costs about a hundred wake-ups a second (a 3 s wait about
// 1% of a core with every thread counted, tests/mpi/idle_cpu_test.cpp). Measured against it, on two
// network namespaces sharing 2 cores (docs/design-notes.md, item 15): the older backoff (yields,
// then 20 us sleeps growing to 1 ms), the waiting application thread driving MPI itself, and Open
// MPI's TCP progress thread (btl_tcp_progress_thread=1). Its timer slack is set to 1 ns so a
// short sleep is short. send() is thread safe; start/stop are called by the application thread.
#ifndef DSM_RUNTIME_TRANSPORT_MPI_BRIDGE_HPP_
#define DSM_RUNTIME_TRANSPORT_MPI_BRIDGE_HPP_

#include <mpi.h>

#include <condition_variable>
#include <cstddef>
#include <deque>
#include <functional>
#include <mutex>
#include <span>
#include <thread>
#include <vector>

namespace dsm::rt {

class mpi_bridge {
 public:
  using deliver_fn = std::function<void(std::span<const std::byte>)>;

  mpi_bridge(MPI_Comm comm, deliver_fn deliver);
  ~mpi_bridge();
  // Queues one message (the parts concatenated) for rank dest.
  void send(int dest, std::span<const std::byte> a, std::span<const std::byte> b);
  // Returns once everything queued has been sent and the thread has ended.
  void stop();

 private:
  struct outgoing {
    int dest;
    std::vector<std::byte> bytes;
  };
  void run();

  MPI_Comm comm_;
  deliver_fn deliver_;
  std::mutex mu_;
  std::condition_variable wake_;
  std::deque<outgoing> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

// Open MPI settings that help the runtime's traffic, set in the environment (where the launcher and
// the user have not set them) by dsm::init when it starts MPI itself: btl_vader_eager_limit=8192
// and btl_vader_max_send_size=65536, so that a 4 KiB unit and its header go in one eager send
// between ranks of one node (DSM_TRANSPORT=mpi, DSM_NODE_SHM=off) instead of a rendezvous.
void tune_mpi_before_init();

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TRANSPORT_MPI_BRIDGE_HPP_
