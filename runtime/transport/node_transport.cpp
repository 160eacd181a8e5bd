// node_transport.cpp: the transport of a real job: shared-memory queues to node-mates (and to
// itself), the MPI bridge to everyone else. See transport.hpp.
#include <sys/prctl.h>

#include <boost/interprocess/mapped_region.hpp>
#include <boost/interprocess/shared_memory_object.hpp>
#include <atomic>
#include <chrono>
#include <cstring>
#include <deque>
#include <mutex>
#include <string>
#include <vector>

#include "base/log.hpp"
#include "base/trace.hpp"
#include "memory/node_memory.hpp"
#include "transport/chaos.hpp"
#include "transport/mpi_bridge.hpp"
#include "transport/shm_queue.hpp"
#include "transport/transport.hpp"

namespace dsm::rt {
namespace {

namespace bip = boost::interprocess;

// True on the thread that serves this rank's engine inbox. DSM_CHAOS does not delay its sends (the
// engine answers requests, and delaying it would only slow every rank down at once).
thread_local bool t_engine_thread = false;
// When this thread (not the engine) last sent to a remote rank, in steady-clock ns.
thread_local std::int64_t t_remote_sent_ns = 0;
// How long an application thread that sent to a remote rank receives its replies from MPI itself
// before it sleeps on its inbox (mpi_bridge.hpp).
constexpr std::int64_t kWaiterPollNs = 500'000;
// A send to a remote rank wakes the engine if it would sleep longer than this still.
constexpr std::int64_t kLongSleepNs = 50'000;

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
    sent_ = std::make_unique<channel[]>(2 * static_cast<size_t>(ranks_));
    waiting_ = std::make_unique<waiting_line[]>(2 * static_cast<size_t>(ranks_));
    received_.assign(2 * static_cast<size_t>(ranks_), 0);
    local_.assign(static_cast<size_t>(ranks_), false);

    // Which ranks share this node.
    MPI_Comm node = split_node(world_, rank_, opt.node_ranks);
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

    open_mailboxes(node, mates, use_shm, opt.queue_slots);
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
      bridge_ = std::make_unique<mpi_bridge>(world_, sizeof(header) + max_payload_);
    }
    if (opt.chaos) {
      for (int box = 0; box < 2; ++box) chaos_in_[box] = std::make_unique<chaos_inbox>(opt.chaos_seed, rank_, box, opt.chaos_pairs);
      chaos_out_ = std::make_unique<chaos_sender>(opt.chaos_seed, rank_);
    }
  }

  // Each rank's two inboxes, in a shared-memory segment of its own (DSM_QUEUE_SLOTS slots each, or
  // 64 + 16 per rank); with use_shm the node-mates' segments mapped too. Collective over `node`.
  void open_mailboxes(MPI_Comm node, const std::vector<int>& mates, bool use_shm, std::uint64_t queue_slots) {
    const std::string job = job_name(world_, "queues");
    // Slots: a header plus the largest payload; enough of them that a ring is seldom full (and
    // nothing waits on a full one: see waiting_line).
    const std::uint32_t slot = static_cast<std::uint32_t>(sizeof(header)) + max_payload_ + 8;
    const std::uint32_t capacity =
        static_cast<std::uint32_t>(queue_slots != 0 ? queue_slots : 64 + 16 * static_cast<std::uint64_t>(ranks_));
    const std::size_t qbytes = (shm_queue::footprint(capacity, slot) + 4095) & ~std::size_t{4095};
    auto name_of = [&](int r) { return job + "-" + std::to_string(r); };

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
  }

  ~node_transport() override { shutdown(); }

  int rank() const override { return rank_; }
  int ranks() const override { return ranks_; }
  std::uint32_t max_payload() const override { return max_payload_; }
  const char* describe() const override { return describe_; }

  void send(int dest, header h, std::span<const std::byte> payload, bool wake) override {
    DSM_REQUIRE(dest >= 0 && dest < ranks_, "send to rank %d of %d", dest, ranks_);
    DSM_REQUIRE(payload.size() <= max_payload_, "payload of %zu bytes over the limit", payload.size());
    if (chaos_out_ && !t_engine_thread) chaos_out_->maybe_delay();
    h.src = rank_;
    h.length = static_cast<std::uint32_t>(payload.size());
    const std::span<const std::byte> head(reinterpret_cast<const std::byte*>(&h), sizeof h);
    if (dest != rank_) {
      bump(stats_.messages_sent);
      bump(stats_.bytes_sent, sizeof h + payload.size());
      if (trace::watching()) return send_traced(dest, h, head, payload, wake);
    }
    deliver(dest, h, head, payload, wake);
  }

  // The sender and the receiver number the messages of each channel (sender, receiver, inbox) in
  // the order they enter it, which is the order they come out (trace.hpp pairs them).
  void send_traced(int dest, const header& h, std::span<const std::byte> head, std::span<const std::byte> payload,
                   bool wake) {
    channel& ch = sent_[2 * static_cast<size_t>(dest) + static_cast<size_t>(h.to)];
    std::lock_guard<std::mutex> g(ch.mu);
    const std::int64_t start = trace::now();
    deliver(dest, h, head, payload, wake);
    trace::message(trace::ev::send, start, trace::now(), dest, static_cast<std::uint16_t>(h.type),
                   static_cast<std::uint8_t>(h.to), ++ch.count, h.id, payload.size());
  }

  void deliver(int dest, const header& h, std::span<const std::byte> head, std::span<const std::byte> payload, bool wake) {
    if (!local_[static_cast<size_t>(dest)]) return deliver_remote(dest, h.to, head, payload, wake, h.type != msg::barrier_swap);
    const std::size_t c = 2 * static_cast<size_t>(dest) + static_cast<size_t>(h.to);
    shm_queue* q = peers_[static_cast<size_t>(dest)].queue[static_cast<int>(h.to)];
    waiting_line& line = waiting_[c];
    if (line.count.load() == 0 && q->try_push(head, payload, wake)) return;
    {
      std::lock_guard<std::mutex> g(line.mu);
      if (line.messages.empty() && q->try_push(head, payload, wake)) return;  // the engine sent the line meanwhile
      std::vector<std::byte> m(head.size() + payload.size());
      std::memcpy(m.data(), head.data(), head.size());
      if (!payload.empty()) std::memcpy(m.data() + head.size(), payload.data(), payload.size());
      line.messages.push_back(std::move(m));
      line.count.fetch_add(1);
      const std::uint64_t now = waiting_total_.fetch_add(1) + 1;
      std::uint64_t peak = stats_.waiting_peak.load(std::memory_order_relaxed);
      while (now > peak && !stats_.waiting_peak.compare_exchange_weak(peak, now, std::memory_order_relaxed)) {
      }
    }
    bump(stats_.ring_full_waits);
    own(inbox::engine)->nudge();  // our engine sends it on
  }

  // To a rank on another node, through MPI. A message nobody waits for (wake=false: a
  // confirmation), from a thread other than the engine, is left to the engine to send: the sender
  // does not pay for the send (5-10 us over TCP) on its way back to the program. Every send to a
  // remote rank first sends what was left so, which keeps each channel's order. `engine_follows`:
  // what the message sets off may come to this rank's engine (false for a barrier_swap, whose answer
  // is the other leader's swap, to the application thread that waits for it).
  void deliver_remote(int dest, inbox box, std::span<const std::byte> head, std::span<const std::byte> payload,
                      bool wake, bool engine_follows) {
    shm_queue* engine = own(inbox::engine);
    if (!wake && !t_engine_thread) {
      std::vector<std::byte> m(head.size() + payload.size());
      std::memcpy(m.data(), head.data(), head.size());
      if (!payload.empty()) std::memcpy(m.data() + head.size(), payload.data(), payload.size());
      {
        std::lock_guard<std::mutex> g(deferred_mu_);
        deferred_.push_back({dest, box, std::move(m)});
        deferred_count_.fetch_add(1);
      }
      engine->nudge();
      return;
    }
    send_deferred();
    const bool under_way = bridge_->send(dest, box, head, payload, engine_follows);
    if (t_engine_thread) return;
    // An application thread polls for its reply for a while (receive); the engine moves along a
    // send that did not complete at once, and is woken from a long sleep: what the send sets off
    // may come to it (a forward, the next request), and it polls for a while after a send.
    t_remote_sent_ns = steady_ns();
    app_polls_until_ns_.store(t_remote_sent_ns + kWaiterPollNs, std::memory_order_relaxed);
    if (under_way || (engine_follows && engine_wakes_ns_.load(std::memory_order_relaxed) - t_remote_sent_ns > kLongSleepNs))
      engine->nudge();
  }

  // Sends the messages left to the engine, in the order they were left.
  void send_deferred() {
    if (deferred_count_.load() == 0) return;
    std::lock_guard<std::mutex> g(deferred_mu_);
    bool under_way = false;
    for (const deferred& d : deferred_) under_way |= bridge_->send(d.dest, d.box, d.bytes, {}, true);
    deferred_count_.fetch_sub(deferred_.size());
    deferred_.clear();
    if (under_way && !t_engine_thread) own(inbox::engine)->nudge();
  }

  // In the order they were sent.
  bool send_waiting() override {
    if (waiting_total_.load() == 0) return true;
    for (std::size_t c = 0; c < 2 * static_cast<size_t>(ranks_); ++c) {
      waiting_line& line = waiting_[c];
      if (line.count.load() == 0) continue;
      shm_queue* q = peers_[c / 2].queue[c % 2];
      std::lock_guard<std::mutex> g(line.mu);
      while (!line.messages.empty() && q->try_push(line.messages.front())) {
        line.messages.pop_front();
        line.count.fetch_sub(1);
        waiting_total_.fetch_sub(1);
      }
    }
    return waiting_total_.load() == 0;
  }

  void set_attentive(inbox box, bool on) override {
    own(box)->set_attentive(on);
  }
  void ring(inbox box) override { own(box)->ring(); }

  void receive(inbox box, handler_fn fn, void* ctx) override {
    shm_queue* q = own(box);
    auto deliver = [&](std::span<const std::byte> bytes) {
      header h;
      if (!decode_header(bytes, h)) fatal("received a message of %zu bytes, shorter than a header", bytes.size());
      if (!trace::watching() || h.src == rank_ || h.src < 0 || h.src >= ranks_) {
        fn(ctx, h, bytes.subspan(sizeof(header)));
        return;
      }
      if (box == inbox::engine) trace::set_engine_thread();
      const std::uint64_t seq = ++received_[2 * static_cast<size_t>(h.src) + static_cast<size_t>(box)];
      const std::int64_t start = trace::now();
      fn(ctx, h, bytes.subspan(sizeof(header)));
      trace::message(trace::ev::handle, start, trace::now(), h.src, static_cast<std::uint16_t>(h.type),
                     static_cast<std::uint8_t>(box), seq, h.id, h.length);
    };
    // DSM_CHAOS: a message is delivered at once or held (chaos.hpp); true if delivered.
    chaos_inbox* chaos = chaos_in_[static_cast<int>(box)].get();
    auto admit = [&](std::span<const std::byte> bytes) {
      if (chaos != nullptr) {
        header h;
        if (!decode_header(bytes, h)) fatal("received a message of %zu bytes, shorter than a header", bytes.size());
        if (!chaos->admit(h.src, h.type, bytes, chaos_inbox::clock::now())) return false;
      }
      deliver(bytes);
      return true;
    };
    if (box == inbox::engine && !t_engine_thread) {
      t_engine_thread = true;
      prctl(PR_SET_TIMERSLACK, 1UL, 0, 0, 0);  // its short sleeps between polls stay short
    }
    std::vector<std::byte>& held = chaos_buffer_[static_cast<int>(box)];
    if (chaos != nullptr && chaos->take_due(chaos_inbox::clock::now(), held)) return deliver(held);
    // The engine first sends on what waits for room in a ring; while something still waits, it
    // sleeps at most kRetryNs for a message before it tries again (and returns without one). A
    // thread that adds to the waiting messages nudges the engine out of its sleep.
    std::int64_t wait = box != inbox::engine || send_waiting() ? -1 : kRetryNs;
    if (box == inbox::engine && bridge_) {
      // The engine carries the MPI path: it handles what remote ranks sent it as it arrives,
      // drops their replies into the application's inbox, and moves sends along; between polls it
      // sleeps on its inbox no longer than the bridge allows.
      send_deferred();
      bool moved = bridge_->poll(
          [&](inbox to, std::span<const std::byte> bytes) {
            if (to == inbox::app) return take_for_app(bytes);
            check_remote(bytes, inbox::engine);
            admit(bytes);
            return true;
          },
          false);
      moved |= bridge_->test_sends();
      const std::int64_t pause = moved ? 0 : bridge_->pause_ns(steady_ns() >= app_polls_until_ns_.load(std::memory_order_relaxed));
      if (wait < 0 || pause < wait) wait = pause;
    }
    if (box == inbox::app && bridge_ && t_remote_sent_ns != 0) {
      // Waiting for a reply from a remote rank, most likely: take it from MPI without a hand-off to
      // the engine, for a while after the send (taking turns with the engine at the one receive),
      // and handle it at once (the ring keeps the order of what arrived before it); then wake the
      // engine, which polls for us again, and sleep.
      if (steady_ns() - t_remote_sent_ns < kWaiterPollNs) {
        const bool arrived = bridge_->poll(
            [&](inbox to, std::span<const std::byte> bytes) {
              // A message for the engine: it handles it, before anything that came after it.
              if (to == inbox::engine) return own(inbox::engine)->nudge(), false;
              return take_for_app(bytes);
            },
            true);
        if (!q->pop_within(0, admit) && !arrived) sched_yield();
        return;
      }
      t_remote_sent_ns = 0;
      own(inbox::engine)->nudge();
    }
    if (chaos != nullptr) {
      const std::int64_t due = chaos->wait_ns(chaos_inbox::clock::now());
      if (due >= 0 && (wait < 0 || due < wait)) wait = due;
    }
    // (A held message may be due when this returns without one: the caller comes back.)
    if (box == inbox::engine && wait > 0) engine_wakes_ns_.store(steady_ns() + wait, std::memory_order_relaxed);
    if (!q->pop_within(wait, admit) && wait == 0) sched_yield();
    if (box == inbox::engine && wait > 0) engine_wakes_ns_.store(0, std::memory_order_relaxed);
  }

  void shutdown() override {
    if (bridge_) {
      send_deferred();
      bridge_->finish();
    }
    if (chaos_in_[0] && !chaos_reported_) {
      chaos_reported_ = true;
      DSM_LOG(info, "chaos: held back %llu engine and %llu application messages",
              static_cast<unsigned long long>(chaos_in_[0]->held_total()),
              static_cast<unsigned long long>(chaos_in_[1]->held_total()));
    }
  }

 private:
  // This rank's own inbox `box`.
  shm_queue* own(inbox box) const { return peers_[static_cast<size_t>(rank_)].queue[static_cast<int>(box)]; }

  // A message from a remote rank, matched for inbox `box`: checked before anything reads it.
  void check_remote(std::span<const std::byte> bytes, inbox box) const {
    header h;
    if (!decode_header(bytes, h)) fatal("received an MPI message of %zu bytes, shorter than a header", bytes.size());
    if (h.to != box) fatal("received an MPI message for another inbox than its tag's");
    if (bytes.size() - sizeof(header) > max_payload_) fatal("received an MPI message with an oversized payload");
  }
  // A message from a remote rank for the application thread: into its inbox, as if a node-mate had
  // sent it (waking the thread if it sleeps); false if the ring is full (the bridge offers it again).
  bool take_for_app(std::span<const std::byte> bytes) {
    check_remote(bytes, inbox::app);
    return own(inbox::app)->try_push(bytes);
  }

  MPI_Comm world_;
  int rank_ = 0;
  int ranks_ = 1;
  std::uint32_t max_payload_;
  counters& stats_;
  std::vector<mailbox> peers_;
  std::vector<bool> local_;
  std::unique_ptr<mpi_bridge> bridge_;
  struct channel {
    std::mutex mu;
    std::uint64_t count = 0;
  };
  std::unique_ptr<channel[]> sent_;        // by destination and inbox, while tracing
  // Messages for a node-mate's (or our own) full ring, by destination and inbox: a sender never
  // waits for ring space, since the thread that would free it may be waiting for this sender (two
  // engines sending to each other, or an engine to itself). The engine sends them on.
  struct waiting_line {
    std::mutex mu;
    std::deque<std::vector<std::byte>> messages;
    std::atomic<std::size_t> count{0};  // messages.size(), read without the lock
  };
  std::unique_ptr<waiting_line[]> waiting_;
  std::atomic<std::size_t> waiting_total_{0};
  // Messages to remote ranks left to the engine to send (deliver_remote).
  struct deferred {
    int dest;
    inbox box;
    std::vector<std::byte> bytes;
  };
  std::mutex deferred_mu_;
  std::deque<deferred> deferred_;
  std::atomic<std::size_t> deferred_count_{0};
  // When the engine's sleep on its inbox ends, if it sleeps for a time (steady-clock ns; 0 if not).
  std::atomic<std::int64_t> engine_wakes_ns_{0};
  // Until when an application thread polls MPI for its replies itself (steady-clock ns).
  std::atomic<std::int64_t> app_polls_until_ns_{0};
  static constexpr std::int64_t kRetryNs = 200'000;
  std::vector<std::uint64_t> received_;   // by sender and inbox; each inbox has one reader
  std::unique_ptr<chaos_inbox> chaos_in_[2];  // DSM_CHAOS, indexed by inbox
  std::vector<std::byte> chaos_buffer_[2];
  std::unique_ptr<chaos_sender> chaos_out_;
  bool chaos_reported_ = false;
  char describe_[128] = {0};
};

}  // namespace

std::unique_ptr<transport> make_node_transport(MPI_Comm world, const options& opt, std::uint32_t max_payload,
                                               counters& stats) {
  return std::make_unique<node_transport>(world, opt, max_payload, stats);
}

}  // namespace dsm::rt
