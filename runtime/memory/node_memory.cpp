// node_memory.cpp: see node_memory.hpp.
#include "memory/node_memory.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

namespace dsm::rt {

namespace bip = boost::interprocess;

std::vector<node_rank> gather_node(MPI_Comm node, int rank, int fd) {
  int size = 1;
  MPI_Comm_size(node, &size);
  node_rank me{rank, static_cast<int>(getpid()), fd};
  std::vector<node_rank> all(static_cast<size_t>(size));
  static_assert(sizeof(node_rank) == 3 * sizeof(int));
  MPI_Allgather(&me, 3, MPI_INT, all.data(), 3, MPI_INT, node);
  return all;
}

MPI_Comm split_node(MPI_Comm comm, int rank, std::uint64_t node_ranks) {
  MPI_Comm host;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &host);
  if (node_ranks == 0) return host;
  int local = 0;
  MPI_Comm_rank(host, &local);
  MPI_Comm node;
  MPI_Comm_split(host, static_cast<int>(static_cast<std::uint64_t>(local) / node_ranks), rank, &node);
  MPI_Comm_free(&host);
  return node;
}

std::string job_name(MPI_Comm comm, const char* what) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  char job[64] = {0};
  if (rank == 0) {
    std::random_device rd;
    std::snprintf(job, sizeof job, "dsm-%d-%08x-%s", static_cast<int>(getpid()), rd(), what);
  }
  MPI_Bcast(job, sizeof job, MPI_CHAR, 0, comm);
  return job;
}

void* map_segment(const std::string& name, bool create, std::size_t bytes, std::string& why) {
  try {
    bip::shared_memory_object object = create ? bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write)
                                              : bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
    if (create) object.truncate(static_cast<bip::offset_t>(bytes));
    // Mapped by hand rather than by a mapped_region, so that the mapping outlives the object's
    // descriptor (closed here) and its owner undoes it with one munmap.
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, object.get_mapping_handle().handle, 0);
    if (p == MAP_FAILED) {
      why = name + ": mmap: " + std::strerror(errno);
      return nullptr;
    }
    return p;
  } catch (const bip::interprocess_exception& e) {
    why = name + ": " + e.what();
    return nullptr;
  }
}

void remove_segment(const std::string& name) { bip::shared_memory_object::remove(name.c_str()); }

void* map_segment_everywhere(MPI_Comm comm, const std::string& name, std::size_t bytes, std::string& why) {
  int rank = 0;
  MPI_Comm_rank(comm, &rank);
  void* p = rank == 0 ? map_segment(name, true, bytes, why) : nullptr;
  int mine = rank != 0 || p != nullptr ? 1 : 0, every = 0;
  MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_MIN, comm);
  if (every == 1 && rank != 0) p = map_segment(name, false, bytes, why);
  mine = every == 1 && p != nullptr ? 1 : 0;
  int all_mapped = 0;
  MPI_Allreduce(&mine, &all_mapped, 1, MPI_INT, MPI_MIN, comm);
  if (rank == 0 && every == 1) remove_segment(name);
  if (all_mapped == 0 && p != nullptr) {
    munmap(p, bytes);
    p = nullptr;
  }
  return p;
}

int open_peer_fd(const node_rank& peer, bool write, std::string& why) {
  const std::string path = "/proc/" + std::to_string(peer.pid) + "/fd/" + std::to_string(peer.fd);
  const int fd = open(path.c_str(), (write ? O_RDWR : O_RDONLY) | O_CLOEXEC);
  if (fd < 0) why = path + ": " + std::strerror(errno);
  return fd;
}

void* map_peer_fd(const node_rank& peer, std::size_t bytes, bool write, std::string& why) {
  const int fd = open_peer_fd(peer, write, why);
  if (fd < 0) return nullptr;
  void* p = mmap(nullptr, bytes, write ? PROT_READ | PROT_WRITE : PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
  const int err = errno;
  close(fd);
  if (p == MAP_FAILED) {
    why = "mapping rank " + std::to_string(peer.rank) + "'s memory: " + std::strerror(err);
    return nullptr;
  }
  return p;
}

}  // namespace dsm::rt
