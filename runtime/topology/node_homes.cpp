// node_homes.cpp: see node_homes.hpp.
#include "topology/node_homes.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

#include "core/log.hpp"
#include "dsm/dsm.hpp"

namespace dsm::rt {
namespace {

namespace bip = boost::interprocess;

// Maps `bytes` of the shared-memory object `name` read-write; nullptr (and `why`) on failure.
std::atomic<std::uint64_t>* map_directory(const std::string& name, bool create, std::size_t bytes, std::string& why) {
  try {
    bip::shared_memory_object object = create ? bip::shared_memory_object(bip::create_only, name.c_str(), bip::read_write)
                                              : bip::shared_memory_object(bip::open_only, name.c_str(), bip::read_write);
    if (create) object.truncate(static_cast<bip::offset_t>(bytes));
    // Mapped by hand rather than by a mapped_region, so that the mapping outlives the object's
    // descriptor (closed here) and is undone with the one munmap in ~node_homes.
    void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, object.get_mapping_handle().handle, 0);
    if (p == MAP_FAILED) {
      why = std::string("mmap: ") + std::strerror(errno);
      return nullptr;
    }
    return static_cast<std::atomic<std::uint64_t>*>(p);
  } catch (const bip::interprocess_exception& e) {
    why = e.what();
    return nullptr;
  }
}

}  // namespace

node_homes::node_homes(MPI_Comm comm, const global_space& space, int rank, int ranks)
    : space_(space), rank_(rank), ranks_(ranks), mates_(static_cast<size_t>(ranks)) {
  static_assert(std::atomic<std::uint64_t>::is_always_lock_free, "directory words are shared between processes");
  char job[64] = {0};
  if (rank_ == 0) {
    std::random_device rd;
    std::snprintf(job, sizeof job, "dsm-%d-%08x-homes", static_cast<int>(getpid()), rd());
  }
  MPI_Bcast(job, sizeof job, MPI_CHAR, 0, comm);
  auto name_of = [&](int r) { return std::string(job) + "-" + std::to_string(r); };

  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
  int node_size = 1;
  MPI_Comm_size(node, &node_size);
  MPI_Comm_rank(node, &local_);
  struct identity {
    int rank;
    int pid;
    int fd;
  } me{rank_, static_cast<int>(getpid()), space_.fd()}, none{};
  std::vector<identity> all(static_cast<size_t>(node_size), none);
  MPI_Allgather(&me, 3, MPI_INT, all.data(), 3, MPI_INT, node);
  local_to_rank_.resize(static_cast<size_t>(node_size));
  for (int i = 0; i < node_size; ++i) local_to_rank_[static_cast<size_t>(i)] = all[static_cast<size_t>(i)].rank;

  // This rank's directory first; every rank then learns whether all have one, so none is left
  // waiting for a rank that failed. A node of more ranks than the word has bits goes without.
  const std::size_t dir_bytes =
      ((space_.units() + static_cast<std::uint64_t>(ranks_) - 1) / static_cast<std::uint64_t>(ranks_) * 8 + 4095) &
      ~std::size_t{4095};
  std::string why;
  mate& self = mates_[static_cast<size_t>(rank_)];
  if (node_size > kMaxMates) {
    why = "more than " + std::to_string(kMaxMates) + " ranks on this node";
  } else if ((self.words = map_directory(name_of(rank_), true, dir_bytes, why)) != nullptr) {
    self.dir_bytes = dir_bytes;
  }
  int mine = self.words != nullptr ? 1 : 0, every = 0;
  MPI_Allreduce(&mine, &every, 1, MPI_INT, MPI_MIN, comm);
  if (every == 0) {
    MPI_Comm_free(&node);
    if (self.words != nullptr) bip::shared_memory_object::remove(name_of(rank_).c_str());
    if (mine == 0) throw dsm::error("the node-local shared segment could not be set up (" + why + "); valid: DSM_NODE_SHM=queues or off");
    throw peer_error("the node-local shared segment could not be set up on another rank");
  }

  // Every node-mate's directory and runtime view. A mate whose memory cannot be opened (another
  // user's process, an address space too small) is reached by message instead, as across nodes.
  for (const identity& id : all) {
    if (id.rank == rank_) continue;
    mate& m = mates_[static_cast<size_t>(id.rank)];
    std::string failed;
    const std::string path = "/proc/" + std::to_string(id.pid) + "/fd/" + std::to_string(id.fd);
    const int fd = open(path.c_str(), O_RDONLY | O_CLOEXEC);
    void* view = MAP_FAILED;
    if (fd < 0) {
      failed = path + ": " + std::strerror(errno);
    } else {
      view = mmap(nullptr, space_.size(), PROT_READ, MAP_SHARED | MAP_NORESERVE, fd, 0);
      if (view == MAP_FAILED) failed = std::string("mapping its global space: ") + std::strerror(errno);
      close(fd);
    }
    if (view != MAP_FAILED) {
      m.words = map_directory(name_of(id.rank), false, dir_bytes, failed);
      if (m.words == nullptr) {
        munmap(view, space_.size());
      } else {
        m.view = static_cast<const std::byte*>(view);
        m.dir_bytes = dir_bytes;
      }
    }
    if (m.view == nullptr) DSM_LOG(warn, "node-local fast path to rank %d left out: %s", id.rank, failed.c_str());
  }
  MPI_Barrier(node);
  bip::shared_memory_object::remove(name_of(rank_).c_str());  // from here on nothing is left in /dev/shm
  MPI_Comm_free(&node);
  describe_ = "node-local fast path: home copies of " + std::to_string(mates()) + " node-mate(s) read directly";
}

node_homes::~node_homes() {
  for (mate& m : mates_) {
    if (m.view != nullptr) munmap(const_cast<std::byte*>(m.view), space_.size());
    if (m.words != nullptr) munmap(m.words, m.dir_bytes);
  }
}

int node_homes::mates() const {
  int n = 0;
  for (int r = 0; r < ranks_; ++r) n += readable(r) ? 1 : 0;
  return n;
}

bool node_homes::try_copy(std::uint64_t u, int home, std::byte* dst, std::uint64_t bytes) {
  const mate& m = mates_[static_cast<size_t>(home)];
  std::atomic<std::uint64_t>& w = m.words[u / static_cast<std::uint64_t>(ranks_)];
  const std::uint64_t bit = std::uint64_t{1} << local_;
  for (int attempt = 0; attempt < 4; ++attempt) {
    const std::uint64_t before = w.load(std::memory_order_acquire);
    if ((before & kSeqOne) != 0) return false;  // the home is writing it: its bytes are not released
    std::memcpy(dst, m.view + u * space_.unit(), bytes);
    std::atomic_thread_fence(std::memory_order_acquire);
    // Enter this rank, provided the sequence number has not moved (other mates may enter meanwhile).
    std::uint64_t now = before;
    while (!w.compare_exchange_weak(now, now | bit, std::memory_order_acq_rel, std::memory_order_acquire)) {
      if ((now & ~kMateBits) != (before & ~kMateBits)) break;
    }
    if ((now & ~kMateBits) == (before & ~kMateBits)) return true;
  }
  return false;
}

}  // namespace dsm::rt
