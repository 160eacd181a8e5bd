// barrier.hpp: barriers, and the check that every rank makes the same collective call.
//
// Every collective call of the API (barrier, alloc, free, finalize) goes through arrive(): each
// rank sends its arrival, naming the call and its argument, to rank 0's engine; when all have
// arrived, rank 0 checks that they agree and releases everyone. A rank out of step (one calls
// dsm::alloc while another calls dsm::barrier, or with another size) ends the job with a message
// naming both calls. arrive() runs on the application thread; handle() on rank 0's engine.
// When every rank shares one node (and DSM_NODE_SHM=on), the calls meet in shared memory instead
// (node_barrier): the last rank to arrive checks and merges, and no message is sent.
#ifndef DSM_RUNTIME_SYNC_BARRIER_HPP_
#define DSM_RUNTIME_SYNC_BARRIER_HPP_

#include <cstdint>
#include <memory>
#include <span>
#include <vector>

#include "core/context.hpp"
#include "sync/node_barrier.hpp"

namespace dsm::rt {

enum class collective : std::uint64_t { barrier = 1, alloc = 2, free = 3, finalize = 4, bind = 5, destroy = 6 };
// The argument of a dsm::destroy by a rank that holds the object's lock.
constexpr std::uint64_t kLockHeld = ~std::uint64_t{0} - 1;
// The argument of a dsm::free whose pointer dsm::alloc did not return.
constexpr std::uint64_t kForeignPointer = ~std::uint64_t{0};

class barrier_service {
 public:
  // `node`: the shared-memory state to use instead of messages, or null.
  barrier_service(context& ctx, std::unique_ptr<node_barrier> node)
      : ctx_(ctx), node_(std::move(node)), calls_(static_cast<size_t>(ctx.ranks)), arrivals_(static_cast<size_t>(ctx.ranks)) {}
  // Blocks until every rank has arrived at the same collective call. A plain barrier (kind barrier,
  // arg 0) carries the model's arrival payload to rank 0 and returns this rank's release payload
  // (protocol::barrier_merge).
  std::vector<std::byte> arrive(collective kind, std::uint64_t arg, std::span<const std::byte> payload = {});
  void handle(const header& h, std::span<const std::byte> payload);

  struct call {
    std::uint64_t kind = 0;
    std::uint64_t arg = 0;
  };

 private:
  std::vector<std::byte> arrive_on_node(collective kind, std::uint64_t arg, std::span<const std::byte> payload,
                                        std::uint64_t epoch);
  context& ctx_;
  std::unique_ptr<node_barrier> node_;
  std::uint64_t epoch_ = 0;       // this rank's count of collective calls
  std::uint64_t root_epoch_ = 0;  // rank 0: the epoch being gathered
  int arrived_ = 0;
  std::vector<call> calls_;
  std::vector<std::vector<std::byte>> arrivals_;  // rank 0: each rank's arrival payload
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_SYNC_BARRIER_HPP_
