// barrier.hpp: barriers, and the check that every rank makes the same collective call.
//
// Every collective call of the API (barrier, alloc, free, bind, destroy, finalize) goes through
// arrive(). The ranks are cut into groups: the ranks of one node, when they share memory
// (DSM_NODE_SHM=on and a transport other than mpi), else one rank each; a group's leader is its
// lowest rank. A group meets in shared memory (node_barrier); its leader then carries every
// member's call and payload to its own engine, and up a binomial tree of the groups' leaders
// rooted at rank 0's group (groups numbered by leader; group k's parent is k without its lowest set
// bit): each leader's engine waits for its own group's and its children's arrivals, then passes
// them all up in one message (a leaf's application thread sends its group's straight to its
// parent's engine). Rank 0's engine checks that the calls agree and merges the model's payloads
// (protocol::barrier_merge, given every rank's arrival by rank); the releases go back down the same
// tree (each engine passes on its children's share; a leaf's go straight to its application
// thread) and, in each group, through its shared memory. Up and down that is 2 * ceil(log2 groups)
// hops between nodes, not a gather at rank 0. With exactly two groups there is no tree and no
// engine: the leaders' application threads swap their groups' arrivals (barrier_swap) and each
// checks and merges both, so one hop separates the nodes and nothing is handed to an engine.
// A rank out of step (one calls dsm::alloc while another calls dsm::barrier, or with another size)
// ends the job with a message naming both calls.
// When every rank shares one node, the group's shared memory is all there is: the last rank to
// arrive checks and merges, and no message is sent.
// arrive() runs on the application thread; handle() on a leader's engine (in a tree).
#ifndef DSM_RUNTIME_SYNC_BARRIER_HPP_
#define DSM_RUNTIME_SYNC_BARRIER_HPP_

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <span>
#include <vector>

#include "coherence/protocol.hpp"
#include "engine/context.hpp"
#include "sync/node_barrier.hpp"
#include "transport/bulk.hpp"

namespace dsm::rt {

enum class collective : std::uint64_t { barrier = 1, alloc = 2, free = 3, finalize = 4, bind = 5, destroy = 6 };
// The argument of a dsm::destroy by a rank that holds the object's lock.
constexpr std::uint64_t kLockHeld = ~std::uint64_t{0} - 1;
// The argument of a dsm::free whose pointer dsm::alloc did not return.
constexpr std::uint64_t kForeignPointer = ~std::uint64_t{0};

class barrier_service {
 public:
  // `leader_of`: every rank's group, named by its leader (the same on every rank). `node`: the
  // shared memory of this rank's group, null for a group of one.
  barrier_service(context& ctx, protocol& proto, std::unique_ptr<node_barrier> node, const std::vector<int>& leader_of);
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
  std::vector<std::byte> arrive_in_tree(collective kind, std::uint64_t arg, std::span<const std::byte> payload,
                                        std::uint64_t epoch);
  // Sends a subtree's arrivals (records of every rank it covers) to dest's engine.
  void send_up(int dest, std::uint64_t epoch, std::span<const std::byte> arrivals, std::uint64_t covered);
  // A leader's engine in a tree, state_mu held: adds a bundle of arrivals (its group's, a child's)
  // to those of call `epoch`. Once all are in: up to the parent, or merged here (rank 0), and every
  // rank's release records are returned.
  std::optional<std::vector<std::byte>> gather(std::uint64_t epoch, std::span<const std::byte> bundle, std::uint64_t covered);
  // Every rank has arrived: checks the calls, merges the payloads, and returns the release records
  // (with two groups, this group's only).
  std::vector<std::byte> merge(std::span<const std::byte> arrivals, std::uint64_t covered);
  // A leader's engine: hands on releases (records by rank) to its children and its own group.
  void pass_down(std::uint64_t epoch, std::span<const std::byte> releases);
  int parent_leader() const { return leaders_[static_cast<size_t>(group_ & (group_ - 1))]; }

  context& ctx_;
  protocol& proto_;
  std::unique_ptr<node_barrier> node_;
  std::vector<int> group_of_;   // by rank: the index of its group (groups ordered by leader)
  std::vector<int> leaders_;    // by group
  std::vector<int> members_;    // this rank's group, ascending (node_barrier's order)
  int group_ = 0;
  std::vector<int> children_;   // groups, ascending: child i covers groups [children_[i], +2^i)
  std::uint64_t epoch_ = 0;     // this rank's count of collective calls
  int peer_ = -1;               // with two groups, the other group's leader (no tree: both merge)
  // A leader's engine in a tree: the arrivals gathered for a call, by epoch.
  struct gathering {
    std::size_t bundles = 0;    // of 1 + children
    std::uint64_t covered = 0;  // ranks
    std::vector<std::byte> arrivals;
  };
  std::map<std::uint64_t, gathering> gathering_;
  bulk_assembly bulk_;                            // barrier_data and barrier_pass being reassembled
  std::vector<std::vector<std::byte>> incoming_;  // by sender: its barrier_data, until its arrival
  // Rank 0 (or the last rank on the node): each rank's call and arrival payload.
  std::vector<call> calls_;
  std::vector<std::vector<std::byte>> arrivals_;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_SYNC_BARRIER_HPP_
