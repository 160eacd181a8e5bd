// node_barrier.hpp: the state of dsm's collective calls (barriers, alloc, free, bind, finalize) in
// memory shared by the ranks of one node. When the job has only this node, no message and no hop
// through rank 0's engine; with other nodes, the node's leader carries the node's arrivals to the
// others and brings back its releases (sync/barrier.hpp).
//
// A Boost.Interprocess segment (created by rank 0, unlinked once every rank has it mapped) holds an
// arrival counter, a generation word that sleeping ranks wait on (a shared futex), and one slot per
// rank: the call it made (epoch, kind, argument) and where its release is. Each rank writes its
// arrival payload (lazy release's intervals, say) into a memfd of its own that every rank maps; the
// last rank to arrive reads every call and payload, checks that the calls agree, merges, writes
// every rank's release into a second memfd of its own, and wakes the others, which copy theirs.
// With other nodes the leader does that part instead, once every rank has arrived: the last to
// arrive wakes it (a second futex, the arrival counter) if it is not the leader itself.
//
// A rank writes its arrival buffer only between a release and its next arrival, and the merger its
// release buffer only once every rank has arrived (so every rank has read the previous releases):
// no buffer is written while it is read. Payloads may be as large as a message's (4 GiB): a buffer
// grows with what its owner writes, and every rank maps it again, larger, when it must read more.
#ifndef DSM_RUNTIME_SYNC_NODE_BARRIER_HPP_
#define DSM_RUNTIME_SYNC_NODE_BARRIER_HPP_

#include <mpi.h>

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

namespace dsm::rt {

class node_barrier {
 public:
  struct call {
    std::uint64_t epoch = 0;
    std::uint64_t kind = 0;
    std::uint64_t arg = 0;
  };

  // Collective over comm, whose ranks must all share one node; rank and ranks are within comm.
  // Throws dsm::error (on every rank of comm) if any rank cannot set up its part; init then goes
  // on with messages.
  node_barrier(MPI_Comm comm, int rank, int ranks);
  ~node_barrier();
  node_barrier(const node_barrier&) = delete;
  node_barrier& operator=(const node_barrier&) = delete;

  // Application thread. Publishes this rank's call and payload; true if it was the last to arrive:
  // then it must call release(), after reading calls and arrivals. Else it must call wait().
  bool arrive(const call& c, std::span<const std::byte> payload);
  // When a leader, not the last rank, reads calls and arrivals and releases: the leader sleeps
  // until every rank has arrived, and the last rank (if not the leader) wakes it.
  void wait_arrivals();
  void wake_leader();
  // The last rank (or the leader): what rank r called and sent.
  call call_of(int r) const;
  std::span<const std::byte> arrival_of(int r);
  // The last rank (or the leader): writes each rank's release (none, or one per rank) and wakes
  // every rank.
  void release(const std::vector<std::vector<std::byte>>& releases);
  // Sleeps until the last rank (or the leader) has released this round.
  void wait();
  // After release() or wait(): this rank's release payload.
  std::vector<std::byte> my_release();

 private:
  struct slot {
    std::uint64_t epoch, kind, arg;
    std::uint64_t arrival_bytes;
    std::uint64_t release_offset, release_bytes;
  };
  struct shared {
    std::atomic<std::uint32_t> arrived;     // futex word too: the leader waits for the last rank
    std::atomic<std::uint32_t> generation;  // futex word: bumped once per round
    std::atomic<std::int32_t> merger;       // who released the last round
    std::uint32_t pad;
    // followed by one slot per rank
  };
  slot& slot_of(int r) const {
    return reinterpret_cast<slot*>(reinterpret_cast<std::byte*>(state_) + sizeof(shared))[r];
  }
  void unmap();
  // A memfd of each rank, mapped by every rank (read-write by its owner).
  struct buffer {
    int fd = -1;                  // this rank's descriptor of it
    bool own = false;
    std::uint64_t committed = 0;  // own buffers only: the file's size
    std::uint64_t mapped = 0;
    std::byte* at = nullptr;
  };
  // The owner: makes room for `bytes`. Anyone: maps at least `bytes` of the buffer.
  void grow(buffer& b, std::uint64_t bytes);
  std::byte* reach(buffer& b, std::uint64_t bytes);

  int rank_;
  int ranks_;
  shared* state_ = nullptr;
  std::size_t state_bytes_ = 0;
  std::uint32_t waiting_for_ = 0;  // the generation this rank's current round ends
  std::vector<buffer> arrivals_;   // by rank
  std::vector<buffer> releases_;   // by rank
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_SYNC_NODE_BARRIER_HPP_
