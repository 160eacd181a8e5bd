// node_transport.cpp: the transport of a real job: shared-memory queues to node-mates (and to
// itself), the MPI bridge to everyone else. See transport.hpp.
#include <unistd.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <chrono>
#include <cstring>
#include <random>
#include <string>
#include <vector>

#include "core/log.hpp"
#include "transport/mpi_bridge.hpp"
#include "transport/shm_queue.hpp"
#include "transport/transport.hpp"

namespace dsm::rt {
namespace {

namespace bip = boost::interprocess;

// One rank's two inboxes, in one shared-memory segment that its node-mates map too.
struct mailbox {
  bip::shared_memory_object object;
  bip::mapped_region region;
  shm_queue* queue[2] = {nullptr, nullptr};  // indexed by inbox
};

class node_transport final : public transport {
 public:
  node_transport(MPI_Comm world, const options& opt, std::uint32_t max_payload, counters& stats)
      : world_(world), max_payload_(max_payload), stats_(stats) {
    MPI_Comm_rank(world_, &rank_);
    MPI_Comm_size(world_, &ranks_);
    peers_.resize(static_cast<size_t>(ranks_));
    local_.assign(static_cast<size_t>(ranks_), false);

    // A job-unique name prefix, chosen by rank 0.
    char job[64] = {0};
    if (rank_ == 0) {
      std::random_device rd;
      std::snprintf(job, sizeof job, "dsm-%d-%08x", static_cast<int>(getpid()), rd());
    }
    MPI_Bcast(job, sizeof job, MPI_CHAR, 0, world_);

    // Which ranks share this node.
    MPI_Comm node;
    MPI_Comm_split_type(world_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &node);
    int node_size = 0;
    MPI_Comm_size(node, &node_size);
    std::vector<int> mates(static_cast<size_t>(node_size));
    MPI_Allgather(&rank_, 1, MPI_INT, mates.data(), 1, MPI_INT, node);
    // DSM_TRANSPORT=mpi and DSM_NODE_SHM=off both send every message between ranks through MPI;
    // only a rank's messages to itself still go through its own queue.
    const bool use_shm = opt.transport != transport_kind::mpi && opt.node_shm;
    int all_local = node_size == ranks_;
    int min_local = 0;
    MPI_Allreduce(&all_local, &min_local, 1, MPI_INT, MPI_MIN, world_);
    if (opt.transport == transport_kind::shm && !min_local) {
      throw dsm::error("DSM_TRANSPORT='shm' but the ranks span several nodes; valid: auto, mpi");
    }

    // Slots: a header plus the largest payload; enough of them that the protocol's bounded
    // number of outstanding messages never fills a ring.
    const std::uint32_t slot = static_cast<std::uint32_t>(sizeof(header)) + max_payload_ + 8;
    const std::uint32_t capacity = static_cast<std::uint32_t>(64 + 16 * ranks_);
    const std::size_t qbytes = (shm_queue::footprint(capacity, slot) + 4095) & ~std::size_t{4095};
    auto name_of = [&](int r) { return std::string(job) + "-" + std::to_string(r); };

    // Create our own segment, then map the node-mates' ones, then unlink every name: from here on
    // nothing is left in /dev/shm, even if the job is killed.
    mailbox& mine = peers_[static_cast<size_t>(rank_)];
    mine.object = bip::shared_memory_object(bip::create_only, name_of(rank_).c_str(), bip::read_write);
    mine.object.truncate(static_cast<bip::offset_t>(2 * qbytes));
    mine.region = bip::mapped_region(mine.object, bip::read_write);
    auto* base = static_cast<std::byte*>(mine.region.get_address());
    mine.queue[0] = shm_queue::create(base, capacity, slot);
    mine.queue[1] = shm_queue::create(base + qbytes, capacity, slot);
    local_[static_cast<size_t>(rank_)] = true;
    MPI_Barrier(node);
    if (use_shm) {
      for (int r : mates) {
        if (r == rank_) continue;
        mailbox& m = peers_[static_cast<size_t>(r)];
        m.object = bip::shared_memory_object(bip::open_only, name_of(r).c_str(), bip::read_write);
        m.region = bip::mapped_region(m.object, bip::read_write);
        auto* b = static_cast<std::byte*>(m.region.get_address());
        m.queue[0] = shm_queue::attach(b);
        m.queue[1] = shm_queue::attach(b + qbytes);
        local_[static_cast<size_t>(r)] = true;
      }
    }
    MPI_Barrier(node);
    bip::shared_memory_object::remove(name_of(rank_).c_str());
    MPI_Comm_free(&node);

    int remote = 0;
    for (int r = 0; r < ranks_; ++r) remote += local_[static_cast<size_t>(r)] ? 0 : 1;
    std::snprintf(describe_, sizeof describe_, "%d rank(s) through shared-memory queues, %d through MPI",
                  ranks_ - remote, remote);
    if (remote > 0) {
      int provided = 0;
      MPI_Query_thread(&provided);
      if (provided < MPI_THREAD_MULTIPLE) {
        throw dsm::error("MPI was initialised without MPI_THREAD_MULTIPLE, which dsm needs to reach ranks through MPI "
                         "(DSM_TRANSPORT=mpi or several nodes); call MPI_Init_thread with MPI_THREAD_MULTIPLE");
      }
      bridge_ = std::make_unique<mpi_bridge>(world_, [this](std::span<const std::byte> bytes) { deliver_local(bytes); });
    }
  }

  ~node_transport() override { shutdown(); }

  int rank() const override { return rank_; }
  int ranks() const override { return ranks_; }
  std::uint32_t max_payload() const override { return max_payload_; }
  const char* describe() const override { return describe_; }

  void send(int dest, header h, std::span<const std::byte> payload, bool wake) override {
    DSM_CHECK(dest >= 0 && dest < ranks_, "send to rank %d of %d", dest, ranks_);
    DSM_CHECK(payload.size() <= max_payload_, "payload of %zu bytes over the limit", payload.size());
    h.src = rank_;
    h.length = static_cast<std::uint32_t>(payload.size());
    const std::span<const std::byte> head(reinterpret_cast<const std::byte*>(&h), sizeof h);
    if (dest != rank_) {
      bump(stats_.messages_sent);
      bump(stats_.bytes_sent, sizeof h + payload.size());
    }
    if (local_[static_cast<size_t>(dest)]) {
      peers_[static_cast<size_t>(dest)].queue[static_cast<int>(h.to)]->push(head, payload, wake);
    } else {
      bridge_->send(dest, head, payload);
    }
  }

  void set_attentive(inbox box, bool on) override {
    peers_[static_cast<size_t>(rank_)].queue[static_cast<int>(box)]->set_attentive(on);
  }
  void ring(inbox box) override { peers_[static_cast<size_t>(rank_)].queue[static_cast<int>(box)]->ring(); }

  void receive(inbox box, handler_fn fn, void* ctx) override {
    peers_[static_cast<size_t>(rank_)].queue[static_cast<int>(box)]->pop([&](std::span<const std::byte> bytes) {
      header h;
      if (!decode_header(bytes, h)) fatal("received a message of %zu bytes, shorter than a header", bytes.size());
      fn(ctx, h, bytes.subspan(sizeof(header)));
    });
  }

  void shutdown() override {
    if (bridge_) bridge_->stop();
  }

 private:
  // A message from the MPI bridge: into our own inbox, as if a node-mate had sent it.
  void deliver_local(std::span<const std::byte> bytes) {
    header h;
    if (!decode_header(bytes, h)) fatal("received an MPI message of %zu bytes, shorter than a header", bytes.size());
    if (h.to != inbox::engine && h.to != inbox::app) fatal("received an MPI message for no inbox");
    if (bytes.size() - sizeof(header) > max_payload_) fatal("received an MPI message with an oversized payload");
    peers_[static_cast<size_t>(rank_)].queue[static_cast<int>(h.to)]->push(bytes);
  }

  MPI_Comm world_;
  int rank_ = 0;
  int ranks_ = 1;
  std::uint32_t max_payload_;
  counters& stats_;
  std::vector<mailbox> peers_;
  std::vector<bool> local_;
  std::unique_ptr<mpi_bridge> bridge_;
  char describe_[128] = {0};
};

}  // namespace

std::unique_ptr<transport> make_node_transport(MPI_Comm world, const options& opt, std::uint32_t max_payload,
                                               counters& stats) {
  return std::make_unique<node_transport>(world, opt, max_payload, stats);
}

}  // namespace dsm::rt
