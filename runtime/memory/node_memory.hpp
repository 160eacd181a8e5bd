// node_memory.hpp: the two ways ranks of one node share memory with each other, for the node-local
// fast paths (node_homes, sync/node_barrier).
//
// - A named Boost.Interprocess segment: created by one rank, opened by its node-mates, unlinked by
//   its creator as soon as they have it mapped (a node barrier), so no name outlives init.
// - A memfd of another rank, opened through /proc/<pid>/fd/<fd> and mapped: it has no name at all,
//   so nothing can be left in /dev/shm even if the job is killed during init.
#ifndef DSM_RUNTIME_MEMORY_NODE_MEMORY_HPP_
#define DSM_RUNTIME_MEMORY_NODE_MEMORY_HPP_

#include <mpi.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

namespace dsm::rt {

// One rank of this node, as its node-mates see it.
struct node_rank {
  int rank = 0;  // in the job
  int pid = 0;
  int fd = -1;   // a memfd it shares (-1: none)
};

// Collective over the node communicator `node`: every rank's identity, by node-local index.
std::vector<node_rank> gather_node(MPI_Comm node, int rank, int fd);

// Collective over `comm`: the ranks of `comm` on this rank's node (MPI_COMM_TYPE_SHARED), cut by
// node-local rank into nodes of at most `node_ranks` ranks when that is not 0 (DSM_NODE_RANKS: a
// cluster of several nodes emulated on one host). Free it with MPI_Comm_free.
MPI_Comm split_node(MPI_Comm comm, int rank, std::uint64_t node_ranks);

// A job-unique name prefix, chosen by rank 0 of `comm` (collective).
std::string job_name(MPI_Comm comm, const char* what);

// Maps `bytes` of the shared-memory object `name` read-write, creating it (and sizing it) if
// `create`. nullptr on failure, with the reason in `why`. Unmap with munmap(p, bytes).
void* map_segment(const std::string& name, bool create, std::size_t bytes, std::string& why);
void remove_segment(const std::string& name);

// Collective over `comm`, whose ranks all share one node: a segment of `bytes` (zero-filled)
// mapped read-write by every rank, created by rank 0 and unlinked before this returns. nullptr on
// every rank if any rank failed, with the reason in `why` on the ranks that failed.
void* map_segment_everywhere(MPI_Comm comm, const std::string& name, std::size_t bytes, std::string& why);

// Opens another process's memfd (its own descriptor, to map and map again); -1 on failure, with the
// reason in `why`.
int open_peer_fd(const node_rank& peer, bool write, std::string& why);

// Maps `bytes` of another process's memfd, read-only or read-write. nullptr on failure, with the
// reason in `why`. The mapping may be larger than the file is now: bytes past its end must not be
// touched until its owner has grown it.
void* map_peer_fd(const node_rank& peer, std::size_t bytes, bool write, std::string& why);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_MEMORY_NODE_MEMORY_HPP_
