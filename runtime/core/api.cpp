// api.cpp: the public C++ and C entry points (api/dsm/dsm.hpp, api/dsm/dsm.h): init and finalize,
// allocation, locks, barriers. init and finalize are collective; see dsm.hpp for the contracts.
#include <mpi.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "alloc/allocator.hpp"
#include "alloc/arenas.hpp"
#include "coherence/protocol.hpp"
#include "core/context.hpp"
#include "core/log.hpp"
#include "core/trace.hpp"
#include "dsm/dsm.h"
#include "dsm/dsm.hpp"
#include "interpose/bounce.hpp"
#include "memory/fault_handler.hpp"
#include "sync/barrier.hpp"
#include "sync/condvars.hpp"
#include "sync/locks.hpp"
#include "topology/topology.hpp"
#include "topology/node_memory.hpp"
#include "transport/mpi_bridge.hpp"

namespace dsm {
namespace {

using rt::g_ctx;

// Collective over comm: if any rank has an error, the lowest rank with a cause of its own prints it
// (once for the job) and every rank exits with status 2.
void agree_or_exit(MPI_Comm comm, int rank, int ranks, const std::optional<std::string>& err, bool peer, bool owns_mpi) {
  const int mine = !err ? INT_MAX : peer ? ranks + rank : rank;
  int first = INT_MAX;
  MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, comm);
  if (first == INT_MAX) return;
  if (first == mine) {
    std::fprintf(stderr, "dsm: error: %s\n", err->c_str());
    std::fflush(stderr);
  }
  if (owns_mpi) {
    MPI_Barrier(comm);
    MPI_Finalize();
  }
  std::_Exit(2);
}

// Runs one init step on every rank and agrees on the outcome.
void step(MPI_Comm comm, int rank, int ranks, bool owns_mpi, const std::function<void()>& fn) {
  std::optional<std::string> err;
  bool peer = false;
  try {
    fn();
  } catch (const rt::peer_error& e) {
    err = e.what();
    peer = true;
  } catch (const std::exception& e) {
    err = e.what();
  }
  agree_or_exit(comm, rank, ranks, err, peer, owns_mpi);
}

// True if the model's units have homes decided per unit (home-based lazy release, and entry
// consistency's unbound data through it).
bool home_based(const rt::options& o) {
  return (o.model == model::lazy_release || o.model == model::entry) && o.lazy == rt::lazy_protocol::home;
}

rt::context& ctx() {
  if (g_ctx == nullptr) {
    std::fprintf(stderr, "dsm: error: a dsm call before dsm::init or after dsm::finalize\n");
    std::abort();
  }
  return *g_ctx;
}

// Starts MPI (with the settings that help dsm) unless the program did; true if dsm started it.
bool start_mpi(int* argc, char*** argv) {
  int initialized = 0;
  MPI_Initialized(&initialized);
  bool owns = false;
  if (!initialized) {
    int provided = 0;
    rt::tune_mpi_before_init();
    if (MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided) != MPI_SUCCESS) {
      std::fprintf(stderr, "dsm: error: MPI_Init_thread failed\n");
      std::exit(2);
    }
    owns = true;
  }
  return owns;
}

// DSM_* and --dsm-* (taken out of argv), the same on every rank. Collective over MPI_COMM_WORLD.
void read_options(rt::context* c, int* argc, char*** argv) {
  const int rank = c->rank, ranks = c->ranks;
  const bool owns = c->owns_mpi;
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  step(MPI_COMM_WORLD, rank, ranks, owns, [&] {
    c->opt = rt::parse_options(
        [](const std::string& name) -> std::optional<std::string> {
          const char* v = std::getenv(name.c_str());
          if (v == nullptr) return std::nullopt;
          return std::string(v);
        },
        argc, argv, page);
  });
  // Every rank must run with the same configuration.
  step(MPI_COMM_WORLD, rank, ranks, owns, [&] {
    const std::size_t h = std::hash<std::string>{}(c->opt.describe());
    unsigned long long mine = h, lo = 0, hi = 0;
    MPI_Allreduce(&mine, &lo, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
    MPI_Allreduce(&mine, &hi, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
    if (lo != hi) {
      throw dsm::error("the DSM_* settings differ between ranks (rank " + std::to_string(rank) + ": " +
                       c->opt.describe() + "); valid: the same settings everywhere (mpirun -x DSM_MODEL ...)");
    }
  });
}

// Returns the number of ranks on this node. Collective over c->comm.
int place_rank(rt::context* c) {
  const int rank = c->rank, ranks = c->ranks;
  const bool owns = c->owns_mpi;
  // Placement (DSM_BIND), before any runtime thread starts so that they all inherit it.
  // The collective part first, so that a rank whose hwloc fails cannot leave the others in it.
  int locals = 1;  // ranks on this node (DSM_NODE_RANKS may cut a host into several)
  step(c->comm, rank, ranks, owns, [&] {
    MPI_Comm host_comm;
    MPI_Comm_split_type(c->comm, MPI_COMM_TYPE_SHARED, rank, MPI_INFO_NULL, &host_comm);
    int local = 0, on_host = 1;
    MPI_Comm_rank(host_comm, &local);
    MPI_Comm_size(host_comm, &on_host);
    MPI_Comm_free(&host_comm);
    MPI_Comm node_comm = rt::split_node(c->comm, rank, c->opt.node_ranks);
    MPI_Comm_size(node_comm, &locals);
    MPI_Comm_free(&node_comm);
    c->node = std::make_unique<rt::machine>();
    c->place = c->node->place(c->opt.bind, local, on_host, c->node->launcher_bound());
    if (c->place.bind && !c->node->bind_process(c->place.rank_cpus)) {
      const int err = errno;
      const std::string why = "binding node-local rank " + std::to_string(local) + " to PU " +
                              rt::cpu_list_string(c->place.rank_cpus) + " failed (" + std::strerror(err) + ")";
      if (c->opt.bind == rt::bind_mode::core) throw dsm::error("DSM_BIND='core': " + why + "; valid: none, auto");
      DSM_LOG(warn, "DSM_BIND=auto: %s; left unbound", why.c_str());
      c->place.bind = false;
    }
  });
  if (rank == 0) DSM_LOG(info, "topology: %s", c->node->describe().c_str());
  {
    char host[256] = {0};
    gethostname(host, sizeof host - 1);
    DSM_LOG(info, "placement on %s: %s; process bound to PU %s", host, c->place.decision.c_str(),
            rt::cpu_list_string(c->node->process_binding()).c_str());
  }
  return locals;
}

// The global space (the collective heap and every rank's arena) and the transport. Collective.
void make_space_and_transport(rt::context* c) {
  const int rank = c->rank, ranks = c->ranks;
  const bool owns = c->owns_mpi;
  step(c->comm, rank, ranks, owns, [&] {
    MPI_Comm comm = c->comm;
    auto all_ok = [comm](bool ok) {
      int mine = ok ? 1 : 0, all = 0;
      MPI_Allreduce(&mine, &all, 1, MPI_INT, MPI_MIN, comm);
      return all != 0;
    };
    // The collective heap (DSM_SIZE), then each rank's arena (DSM_ARENA).
    const std::uint64_t arenas = c->opt.arena * static_cast<std::uint64_t>(ranks);
    c->space = std::make_unique<rt::global_space>(
        all_ok, c->opt.size + arenas, c->opt.unit,
        "DSM_SIZE=" + std::to_string(c->opt.size) + " with DSM_ARENA=" + std::to_string(c->opt.arena) + " for each of " +
            std::to_string(ranks) + " ranks");
  });
  step(c->comm, rank, ranks, owns, [&] {
    // A chunk of unit data, or a diff of such a chunk (at worst the chunk as one run, plus its header).
    // Home-based lazy release sends several units in one message: a fetch with its prefetched
    // units, a lock token with the unit the acquirer needs and the notices.
    std::uint64_t units_per_message = 1, extra = 64;
    if (home_based(c->opt)) units_per_message = std::max<std::uint64_t>(2, c->opt.prefetch), extra = 1024;
    const std::uint32_t max_payload = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(c->opt.unit * units_per_message, std::uint64_t{256} << 10) + extra);
    c->net = rt::make_node_transport(c->comm, c->opt, max_payload, c->stats);
  });
}

void make_node_homes(rt::context* c) {
  const int rank = c->rank, ranks = c->ranks;
  // Node-mates read each other's home copies directly where the model keeps a master copy at the
  // home that stays valid while the home is not writing it (eager release, home-based lazy release).
  // Every fast path agrees across the ranks whether it could be set up; where it could not (a
  // small `ulimit -v`, /dev/shm full), the job goes on with messages, and says so.
  if ((c->opt.model == model::eager_release || home_based(c->opt)) && c->opt.node_data &&
      c->opt.transport != rt::transport_kind::mpi && ranks > 1) {
    try {
      c->homes = std::make_unique<rt::node_homes>(c->comm, *c->space, rank, ranks, c->opt.node_ranks);
      DSM_LOG(info, "%s", c->homes->describe().c_str());
    } catch (const dsm::error& e) {
      DSM_LOG(warn, "%s; node-mates' misses go by message", e.what());
    }
  }
}

// The unit table, as every unit starts under the model, and the model's protocol.
void make_units_and_protocol(rt::context* c) {
  const int rank = c->rank, ranks = c->ranks;
  // As allocated, every unit is zero. Under sequential consistency its home owns it; under release
  // consistency the home holds a clean copy.
  // Under lazy release every rank holds a valid (zero) copy of every unit from the start.
  // Home-based lazy release decides each unit's home (DSM_HOME) when it is first needed.
  const model m = c->opt.model;
  c->table = std::make_unique<rt::unit_table>(
      *c->space, rank, ranks, rt::unit_table::default_map_budget(),
      m == model::sequential ? rt::holding::owner_sole : rt::holding::copy,
      m == model::lazy_release || m == model::entry ? rt::holding::copy : rt::holding::invalid,
      home_based(c->opt) || m == model::eager_release ? rt::unit_table::homes::decided : rt::unit_table::homes::fixed);
  c->lim = {ranks, c->space->units(), c->space->unit(), c->net->max_payload()};
  c->proto = rt::make_protocol(*c);
}

void make_sync(rt::context* c, int locals) {
  const int rank = c->rank, ranks = c->ranks;
  // Collective calls meet in shared memory when every rank is on this node (the same answer on
  // every rank: either one node holds them all or none does), and node-mates queue for locks in
  // shared memory. With other nodes, each node's ranks meet in shared memory first and its leader
  // (lowest rank) takes part across the nodes (sync/barrier.hpp), and a run of node-mates queued
  // for a lock takes one place in the manager's queue (sync/node_locks.hpp); a node that cannot
  // share memory takes part rank by rank.
  std::unique_ptr<rt::node_barrier> shared_barrier;
  std::unique_ptr<rt::node_locks> shared_locks;
  const bool node_data = c->opt.node_data && c->opt.transport != rt::transport_kind::mpi;
  int leader = rank;  // of this rank's barrier group
  if (node_data && ranks > 1 && locals == ranks) {
    try {
      shared_barrier = std::make_unique<rt::node_barrier>(c->comm, rank, ranks);
      shared_locks = std::make_unique<rt::node_locks>(c->comm, rank, std::vector<bool>(static_cast<size_t>(ranks), true));
      leader = 0;
      DSM_LOG(info, "node-local fast path: barriers and lock hand-offs through shared memory (%d ranks on this node)", ranks);
    } catch (const dsm::error& e) {
      shared_barrier.reset();
      shared_locks.reset();
      DSM_LOG(warn, "%s; barriers and locks go by message", e.what());
    }
  } else if (node_data && locals > 1) {
    MPI_Comm node_comm = rt::split_node(c->comm, rank, c->opt.node_ranks);
    int local = 0, lowest = rank;
    MPI_Comm_rank(node_comm, &local);
    MPI_Allreduce(&rank, &lowest, 1, MPI_INT, MPI_MIN, node_comm);
    std::vector<int> mate_ranks(static_cast<size_t>(locals));
    MPI_Allgather(&rank, 1, MPI_INT, mate_ranks.data(), 1, MPI_INT, node_comm);
    std::vector<bool> mates(static_cast<size_t>(ranks), false);
    for (int r : mate_ranks) mates[static_cast<size_t>(r)] = true;
    try {
      shared_barrier = std::make_unique<rt::node_barrier>(node_comm, local, locals);
      shared_locks = std::make_unique<rt::node_locks>(node_comm, rank, std::move(mates));
      leader = lowest;
      DSM_LOG(info, "node-local fast path: barriers meet in shared memory (%d ranks on this node), then across nodes "
              "through rank %d; node-mates queue for locks in shared memory", locals, lowest);
    } catch (const dsm::error& e) {
      shared_barrier.reset();
      shared_locks.reset();
      DSM_LOG(warn, "%s; this node's ranks take part in barriers and locks one by one", e.what());
    }
    MPI_Comm_free(&node_comm);
  }
  std::vector<int> leader_of(static_cast<size_t>(ranks));
  MPI_Allgather(&leader, 1, MPI_INT, leader_of.data(), 1, MPI_INT, c->comm);
  c->locks = std::make_unique<rt::lock_service>(*c, std::move(shared_locks), node_data && locals < ranks);
  c->barriers = std::make_unique<rt::barrier_service>(*c, std::move(shared_barrier), leader_of);
  c->condvars = std::make_unique<rt::condvar_service>(*c);
  c->heap = std::make_unique<rt::allocator>(c->opt.size, c->opt.unit);
  c->arena = std::make_unique<rt::arenas>(*c, c->opt.size, c->opt.arena);

}

// The configuration, the space and the transport, in the log (DSM_LOG=info).
void describe_job(const rt::context* c) {
  const int rank = c->rank, ranks = c->ranks;
  if (rank == 0) {
    DSM_LOG(info, "%s; %d rank(s)", c->opt.describe().c_str(), ranks);
  }
  DSM_LOG(info, "global space at %p (%llu bytes, %llu units); transport: %s", static_cast<void*>(c->space->app_base()),
          static_cast<unsigned long long>(c->space->size()), static_cast<unsigned long long>(c->space->units()),
          c->net->describe());
  if (const std::string missing = rt::calls_not_wrapped(); !missing.empty() && rank == 0) {
    DSM_LOG(warn, "the program's calls to %s do not pass through dsm (link libdsm before the MPI library): shared "
            "memory handed to them may fail with EFAULT or hang between hosts; see dsm::touch", missing.c_str());
  }
}

}  // namespace

void init(int* argc, char*** argv) {
  if (g_ctx != nullptr) throw dsm::error("dsm::init called twice");
  const bool owns = start_mpi(argc, argv);
  auto c = std::make_unique<rt::context>();
  c->owns_mpi = owns;
  MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &c->ranks);
  read_options(c.get(), argc, argv);
  rt::set_log_identity(c->rank, c->opt.log);
  MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
  rt::trace::start(c->comm, c->rank, c->ranks, c->opt.trace_path, c->opt.log >= rt::log_level::debug, c->opt.trace_events,
                   model_name(c->opt.model));
  const int locals = place_rank(c.get());
  make_space_and_transport(c.get());
  make_node_homes(c.get());
  make_units_and_protocol(c.get());
  make_sync(c.get(), locals);
  describe_job(c.get());
  g_ctx = c.release();
  rt::install_terminate_handler();
  rt::install_fault_handler();
  g_ctx->start_engine();
}

bool initialized() noexcept { return g_ctx != nullptr; }

void finalize() {
  if (g_ctx == nullptr) return;
  rt::context& c = *g_ctx;
  // A lock still held here would leave every rank that waits for it hanging (and this rank waiting
  // for them in the finalize barrier): end the job instead, naming the lock.
  if (const std::optional<std::uint64_t> held = c.proto->serves_locks() ? c.proto->any_held() : c.locks->any_held()) {
    rt::fatal("dsm::finalize while this rank holds dsm::mutex %llu; release every lock before finalize",
              static_cast<unsigned long long>(*held));
  }
  c.condvars->leave();  // waiters left behind by every other rank are reported by their manager
  c.barriers->arrive(rt::collective::finalize, 0);
  c.stop_engine();
  c.net->shutdown();
  rt::remove_fault_handler();
  rt::trace::finish(c.comm);
  rt::remove_terminate_handler();
  if (c.opt.stats_table || !c.opt.stats_path.empty()) {
    rt::report_stats(c.stats, c.comm, c.opt.stats_table, c.opt.stats_path, model_name(c.opt.model));
  }
  MPI_Comm comm = c.comm;
  const bool owns = c.owns_mpi;
  g_ctx = nullptr;
  delete &c;
  MPI_Comm_free(&comm);
  if (owns) MPI_Finalize();
}

int rank() noexcept { return g_ctx ? g_ctx->rank : 0; }
int ranks() noexcept { return g_ctx ? g_ctx->ranks : 1; }
model current_model() noexcept { return g_ctx ? g_ctx->opt.model : model::sequential; }
std::size_t unit_size() noexcept { return g_ctx ? g_ctx->opt.unit : 0; }
statistics stats() noexcept { return g_ctx ? g_ctx->stats.snapshot() : statistics{}; }

const char* model_name(model m) noexcept {
  switch (m) {
    case model::sequential: return "sequential";
    case model::eager_release: return "eager-release";
    case model::lazy_release: return "lazy-release";
    case model::entry: return "entry";
  }
  return "unknown";
}

namespace detail {

void* alloc_bytes(std::size_t bytes, std::size_t align, placement where) {
  rt::context& c = ctx();
  if (align > c.opt.unit) throw dsm::error("dsm::alloc: alignment " + std::to_string(align) + " exceeds the unit");
  c.barriers->arrive(rt::collective::alloc, bytes);
  std::optional<std::uint64_t> off;
  {
    std::lock_guard<rt::runtime_mutex> g(c.op_mu);
    off = c.heap->allocate(bytes);
    if (off && where != placement::configured) c.heap->place(*off, where);
  }
  if (!off) {
    throw dsm::error("dsm::alloc(" + std::to_string(bytes) + " bytes): the global space is full (DSM_SIZE=" +
                     std::to_string(c.opt.size) + ", " + std::to_string(c.heap->in_use()) +
                     " bytes in use); valid: a larger DSM_SIZE");
  }
  return c.space->app_base() + *off;
}

void free_bytes(void* p) {
  if (p == nullptr) return;
  rt::context& c = ctx();
  std::optional<std::uint64_t> len;
  std::uint64_t off = 0;
  if (c.space->contains(p)) {
    off = static_cast<std::uint64_t>(static_cast<std::byte*>(p) - c.space->app_base());
    std::lock_guard<rt::runtime_mutex> g(c.op_mu);
    len = c.heap->length_of(off);
  }
  if (c.proto->needs_barrier_before_free()) barrier();
  if (len) {
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    c.proto->before_free(off / c.opt.unit, (off + *len) / c.opt.unit);
  }
  // The check is collective too: if every rank passes the same foreign pointer, every rank throws;
  // if only some do, the ranks are out of step and the job ends with a message naming both calls.
  c.barriers->arrive(rt::collective::free, len ? off : rt::kForeignPointer);
  if (!len) {
    char where[32];
    std::snprintf(where, sizeof where, "%p", p);
    throw dsm::error(std::string("dsm::free(") + where + "): not a pointer returned by dsm::alloc" +
                     (c.arena->contains(p) ? " (it is in a rank's arena: memory from dsm::malloc_bytes or dsm::new_ "
                                             "goes back with dsm::mfree or dsm::delete_)"
                                           : ""));
  }
  {
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    std::lock_guard<rt::runtime_mutex> g(c.state_mu);
    c.space->zero(off, *len);
    c.heap->release(off);
    c.bound.remove_within(off, off + *len);
    for (std::uint64_t u = off / c.opt.unit; u < (off + *len) / c.opt.unit; ++u) c.table->set_extent(u, c.opt.unit);
  }
  {
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    c.proto->on_free(off / c.opt.unit, (off + *len) / c.opt.unit);
  }
}

}  // namespace detail

namespace {
// Ids from here up name the locks objects carry.
constexpr std::uint64_t kObjectLocks = std::uint64_t{1} << 62;
// Ids from here up are the locks of atomics on words bound to no lock, one of kAtomicLockCount
// chosen by the word's unit: a bounded number of locks, whatever the program touches.
constexpr std::uint64_t kAtomicLocks = std::uint64_t{1} << 63;
constexpr std::uint64_t kAtomicLockCount = 4096;

void check_user_lock(std::uint64_t id) {
  if (id >= kObjectLocks)
    throw dsm::error("dsm::mutex " + std::to_string(id) + ": ids from 2^62 up are reserved for the locks of objects");
}

bool acquire_lock(std::uint64_t id, bool exclusive, bool try_only) {
  rt::context& c = ctx();
  if (c.proto->serves_locks()) return c.proto->acquire(id, exclusive, try_only);
  // The other models have no shared mode: every acquire is exclusive.
  if (try_only) return c.locks->try_acquire(id);
  c.locks->acquire(id);
  return true;
}

void release_lock(std::uint64_t id, bool exclusive) {
  rt::context& c = ctx();
  if (c.proto->serves_locks()) c.proto->release(id, exclusive);
  else c.locks->release(id);
}

// Makes [p, p + bytes) accessible as a fault would: the same protocol calls, before the access.
void touch(rt::context& c, const void* p, std::size_t bytes, bool write) {
  const std::uint64_t first = c.space->unit_of(p);
  const std::uint64_t last = c.space->unit_of(static_cast<const std::byte*>(p) + bytes - 1);
  for (std::uint64_t u = first; u <= last; ++u) {
    {
      std::lock_guard<rt::runtime_mutex> g(c.state_mu);
      if (c.table->map_if_allowed(u, write)) continue;
    }
    rt::trace::span miss(write ? rt::trace::ev::write_miss : rt::trace::ev::read_miss, u);
    if (write) c.proto->write_miss(u);
    else c.proto->read_miss(u);
  }
}
}  // namespace

void mutex::acquire() {
  check_user_lock(id_);
  acquire_lock(id_, true, false);
}
void mutex::release() {
  check_user_lock(id_);
  release_lock(id_, true);
}
void mutex::acquire_shared() {
  check_user_lock(id_);
  acquire_lock(id_, false, false);
}
void mutex::release_shared() {
  check_user_lock(id_);
  release_lock(id_, false);
}
bool mutex::try_acquire() {
  check_user_lock(id_);
  return acquire_lock(id_, true, true);
}
bool mutex::try_acquire_shared() {
  check_user_lock(id_);
  return acquire_lock(id_, false, true);
}

// ---- Condition variables (runtime/sync/condvars.hpp).

namespace {
std::uint64_t lock_of_wait(std::uint64_t cv, std::unique_lock<mutex>& lock) {
  if (lock.mutex() == nullptr || !lock.owns_lock()) {
    throw dsm::error("dsm::condition_variable " + std::to_string(cv) + ": wait by rank " + std::to_string(ctx().rank) +
                     " with a std::unique_lock that holds no dsm::mutex");
  }
  check_user_lock(lock.mutex()->id());
  return lock.mutex()->id();
}
}  // namespace

void condition_variable::wait(std::unique_lock<mutex>& lock) { ctx().condvars->wait(id_, lock_of_wait(id_, lock)); }
bool condition_variable::wait_until_steady(std::unique_lock<mutex>& lock,
                                           std::chrono::steady_clock::time_point deadline) {
  return ctx().condvars->wait(id_, lock_of_wait(id_, lock), &deadline);
}
void condition_variable::notify_one() { ctx().condvars->notify(id_, false); }
void condition_variable::notify_all() { ctx().condvars->notify(id_, true); }

namespace detail {

namespace {
void bind_range(rt::context& c, std::uint64_t lock, const void* p, std::size_t bytes) {
  const bool inside = c.space->contains(p) && bytes > 0 &&
                      bytes <= c.space->size() - static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - c.space->app_base());
  const std::uint64_t off = inside ? static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - c.space->app_base()) : 0;
  // Settled data first (entry consistency: the value bound is the one every rank sees now).
  barrier();
  std::uint64_t sum = 1469598103934665603ull;  // FNV-1a of (lock, offset or foreign, bytes)
  for (std::uint64_t v : {lock, inside ? off : rt::kForeignPointer, static_cast<std::uint64_t>(bytes)}) {
    for (int i = 0; i < 8; ++i) sum = (sum ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
  }
  c.barriers->arrive(rt::collective::bind, sum);
  char what[96];
  std::snprintf(what, sizeof what, "dsm::mutex(%llu).bind(%p, %zu)", static_cast<unsigned long long>(lock), p, bytes);
  if (!inside) throw dsm::error(std::string(what) + ": the range is not inside the global space (memory from dsm::alloc)");
  {
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    {
      std::lock_guard<rt::runtime_mutex> g(c.state_mu);
      const std::string why = c.bound.conflict(off, bytes);
      if (!why.empty()) throw dsm::error(std::string(what) + ": " + why);
    }
    c.proto->settle(off / c.opt.unit, (off + bytes - 1) / c.opt.unit + 1);
    std::lock_guard<rt::runtime_mutex> g(c.state_mu);
    c.bound.add(lock, off, bytes);
  }
  // No rank acquires the lock before every rank knows the range: a grant carries the bound bytes.
  c.barriers->arrive(rt::collective::bind, sum);
}
}  // namespace

void bind_bytes(std::uint64_t lock, const void* p, std::size_t bytes) {
  check_user_lock(lock);
  bind_range(ctx(), lock, p, bytes);
}

bool make_object_bytes(std::size_t bytes, std::size_t align, object_ref& out) {
  rt::context& c = ctx();
  if (bytes == 0) throw dsm::error("dsm::make_object: an object of 0 bytes");
  void* p = alloc_bytes(bytes, align);
  std::uint64_t lock = kObjectLocks + c.objects;
  if (c.free_objects.empty()) {
    ++c.objects;
  } else {
    lock = c.free_objects.back();
    c.free_objects.pop_back();
  }
  {
    // Its last unit holds only the object's tail: only those bytes move.
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    std::lock_guard<rt::runtime_mutex> g(c.state_mu);
    const std::uint64_t first = c.space->unit_of(p);
    const std::uint64_t last = c.space->unit_of(static_cast<std::byte*>(p) + bytes - 1);
    c.table->set_extent(last, bytes - (last - first) * c.opt.unit);
  }
  bind_range(c, lock, p, bytes);
  out = {p, bytes, lock};
  // The lock's manager holds it first (its data starts there under entry consistency).
  return static_cast<std::uint64_t>(c.rank) == lock % static_cast<std::uint64_t>(c.ranks);
}

void object_made(const object_ref&) { barrier(); }

void destroy_object(const object_ref& o) {
  if (o.p == nullptr) return;
  rt::context& c = ctx();
  const bool serves = c.proto->serves_locks();
  const bool held = serves ? c.proto->holds(o.lock) : c.locks->holds(o.lock);
  // Every rank is done with the object: nobody holds or waits for its lock. A rank that holds it
  // makes the calls disagree, and the job ends with a message naming it.
  c.barriers->arrive(rt::collective::destroy, held ? rt::kLockHeld : o.lock);
  if (held) throw dsm::error("dsm::destroy: rank " + std::to_string(c.rank) + " holds the object's lock");
  // The lock's manager may still await a message about it that left before the barrier (a try's
  // probe result, an entry holder's answer); it arrives within a message's flight.
  for (;;) {
    {
      std::lock_guard<rt::runtime_mutex> op(c.op_mu);
      if (serves ? c.proto->forget_lock(o.lock) : c.locks->forget(o.lock)) break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  free_bytes(o.p);
  c.free_objects.push_back(o.lock);
}

void open_object(const object_ref& o, bool write) {
  if (o.p == nullptr) throw dsm::error("dsm::object: a handle on an empty object");
  acquire_lock(o.lock, write, false);
  rt::context& c = ctx();
  touch(c, o.p, o.bytes, write);
}

void close_object(const object_ref& o, bool write) noexcept {
  try {
    release_lock(o.lock, write);
  } catch (const std::exception& e) {
    rt::fatal("%s", e.what());
  }
}

std::uint64_t atomic_apply(void* p, std::size_t size, atomic_op op, std::uint64_t operand, std::uint64_t desired) {
  rt::context& c = ctx();
  auto* bytes = static_cast<std::byte*>(p);
  if (!c.space->contains(p) || !c.space->contains(bytes + size - 1)) {
    throw dsm::error("dsm::atomic_ref: the integer is not in the global space");
  }
  if (reinterpret_cast<std::uintptr_t>(p) % size != 0) {
    throw dsm::error("dsm::atomic_ref: the integer is not aligned to its size (" + std::to_string(size) + " bytes)");
  }
  const auto off = static_cast<std::uint64_t>(bytes - c.space->app_base());
  std::uint64_t lock;
  {
    std::lock_guard<rt::runtime_mutex> g(c.op_mu);
    const rt::bindings::range* r = c.bound.find(off);
    if (r != nullptr && off + size <= r->offset + r->bytes) {
      lock = r->lock;
    } else if (r != nullptr || c.opt.model == model::entry) {
      throw dsm::error(std::string("dsm::atomic_ref: under entry consistency the integer must lie in a range bound to a "
                                   "lock (dsm::mutex::bind)") +
                       (r != nullptr ? "; it straddles the end of one" : ""));
    } else {
      lock = kAtomicLocks + off / c.opt.unit % kAtomicLockCount;
    }
  }
  const bool exclusive = op != atomic_op::load;
  acquire_lock(lock, exclusive, false);
  std::uint64_t old = 0;
  std::memcpy(&old, p, size);
  const std::uint64_t mask = size == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * size)) - 1;
  std::uint64_t value = old;
  switch (op) {
    case atomic_op::load: break;
    case atomic_op::store: case atomic_op::exchange: value = operand; break;
    case atomic_op::compare_exchange: value = old == operand ? desired : old; break;
    case atomic_op::fetch_add: value = (old + operand) & mask; break;
    case atomic_op::fetch_and: value = old & operand; break;
    case atomic_op::fetch_or: value = old | operand; break;
    case atomic_op::fetch_xor: value = old ^ operand; break;
  }
  if (value != old) std::memcpy(p, &value, size);
  release_lock(lock, exclusive);
  return old;
}

void free_or_die(void* p) noexcept {
  try {
    free_bytes(p);
  } catch (const std::exception& e) {
    rt::fatal("%s", e.what());
  }
}

void mfree_or_die(void* p) noexcept {
  try {
    mfree(p);
  } catch (const std::exception& e) {
    rt::fatal("%s", e.what());
  }
}

}  // namespace detail

namespace {
// True if p is a pointer dsm::alloc returned and dsm::free has not taken back.
bool from_alloc(rt::context& c, const void* p) {
  if (!c.space->contains(p)) return false;
  std::lock_guard<rt::runtime_mutex> g(c.op_mu);
  return c.heap->length_of(static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - c.space->app_base())).has_value();
}
}  // namespace

void touch(const void* p, std::size_t bytes, access a) {
  if (bytes == 0) return;
  rt::context& c = ctx();
  if (!c.space->contains(p) || !c.space->contains(static_cast<const std::byte*>(p) + bytes - 1)) {
    throw dsm::error("dsm::touch: the range is not inside the global space");
  }
  touch(c, p, bytes, a == access::write);
}

void* malloc_bytes(std::size_t bytes, std::size_t align) {
  rt::context& c = ctx();
  if (align == 0 || (align & (align - 1)) != 0) {
    throw dsm::error("dsm::malloc_bytes: alignment " + std::to_string(align) + " is not a power of two");
  }
  if (bytes > c.opt.arena || align > c.opt.arena / 2) return nullptr;
  return c.arena->allocate(bytes, align);
}

void mfree(void* p) {
  if (p == nullptr) return;
  rt::context& c = ctx();
  const rt::arenas::freed r = c.arena->free(p);
  if (r == rt::arenas::freed::ok) return;
  char where[32];
  std::snprintf(where, sizeof where, "%p", p);
  if (r == rt::arenas::freed::not_live) {
    throw dsm::error(std::string("dsm::mfree(") + where +
                     "): no live block starts there (freed already, or not a pointer dsm::malloc_bytes returned)");
  }
  throw dsm::error(std::string("dsm::mfree(") + where + "): not a pointer from dsm::malloc_bytes or dsm::new_" +
                   (from_alloc(c, p) ? " (memory from dsm::alloc goes back with the collective dsm::free)" : ""));
}

void barrier() {
  rt::context& c = ctx();
  const std::uint64_t n = c.stats.barriers.load(std::memory_order_relaxed);  // traced as the barrier's number
  rt::trace::span whole(rt::trace::ev::barrier, n);
  std::vector<std::byte> arrival;
  {
    rt::trace::span phase(rt::trace::ev::barrier_flush, n);
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    c.proto->on_barrier();
    arrival = c.proto->barrier_arrival();
  }
  std::optional<rt::trace::span> waiting(std::in_place, rt::trace::ev::barrier_wait, n);
  const std::vector<std::byte> release = c.barriers->arrive(rt::collective::barrier, 0, arrival);
  waiting.reset();
  bool collect;
  {
    rt::trace::span phase(rt::trace::ev::barrier_apply, n);
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    collect = c.proto->on_barrier_release(release);
    if (collect) c.proto->collect_validate();
  }
  if (collect) {
    rt::trace::span phase(rt::trace::ev::barrier_collect, n);
    // Every rank has fetched what it lacked; then nobody needs the old diffs any more.
    c.barriers->arrive(rt::collective::barrier, 1);
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    c.proto->collect_discard();
  }
  rt::bump(c.stats.barriers);
}

}  // namespace dsm

// The C interface.
extern "C" {

int dsm_init(int* argc, char*** argv) {
  try {
    dsm::init(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dsm: error: %s\n", e.what());
    return -1;
  }
  return 0;
}
void dsm_finalize(void) { dsm::finalize(); }
int dsm_rank(void) { return dsm::rank(); }
int dsm_ranks(void) { return dsm::ranks(); }
dsm_model dsm_current_model(void) { return static_cast<dsm_model>(dsm::current_model()); }

#define DSM_C_CALL(expr)                                  \
  try {                                                   \
    expr;                                                 \
  } catch (const std::exception& e) {                     \
    dsm::rt::fatal("%s", e.what());                       \
  }

namespace {
// The message of this thread's last error a C call returned (dsm_last_error).
thread_local std::string t_last_error;
}  // namespace

// A recoverable error (dsm::error: the same on every rank of a collective call, or this rank's own
// in a call that is not collective) becomes `fail` and a message for dsm_last_error; anything
// else ends the job, as the ranks may be out of step.
#define DSM_C_TRY(expr, fail)                             \
  try {                                                   \
    expr;                                                 \
  } catch (const dsm::error& e) {                         \
    t_last_error = e.what();                              \
    return fail;                                          \
  } catch (const std::exception& e) {                     \
    dsm::rt::fatal("%s", e.what());                       \
  }

const char* dsm_last_error(void) { return t_last_error.c_str(); }

void* dsm_alloc(size_t bytes) {
  void* p = nullptr;
  DSM_C_TRY(p = dsm::detail::alloc_bytes(bytes, alignof(std::max_align_t)), nullptr);
  return p;
}
int dsm_free(void* p) {
  DSM_C_TRY(dsm::detail::free_bytes(p), -1);
  return 0;
}
void* dsm_malloc(size_t bytes) {
  void* p = nullptr;
  DSM_C_TRY(p = dsm::malloc_bytes(bytes), nullptr);
  if (p == nullptr) t_last_error = "dsm_malloc(" + std::to_string(bytes) + "): this rank's arena is full (DSM_ARENA)";
  return p;
}
int dsm_mfree(void* p) {
  DSM_C_TRY(dsm::mfree(p), -1);
  return 0;
}
void dsm_lock_acquire(uint64_t id) { DSM_C_CALL(dsm::mutex(id).acquire()); }
void dsm_lock_release(uint64_t id) { DSM_C_CALL(dsm::mutex(id).release()); }
void dsm_lock_acquire_shared(uint64_t id) { DSM_C_CALL(dsm::mutex(id).acquire_shared()); }
void dsm_lock_release_shared(uint64_t id) { DSM_C_CALL(dsm::mutex(id).release_shared()); }
int dsm_lock_try_acquire(uint64_t id) {
  int r = 0;
  DSM_C_CALL(r = dsm::mutex(id).try_acquire() ? 1 : 0);
  return r;
}
void dsm_barrier(void) { DSM_C_CALL(dsm::barrier()); }

int dsm_touch(const void* p, size_t bytes, int write) {
  DSM_C_TRY(dsm::touch(p, bytes, write ? dsm::access::write : dsm::access::read), -1);
  return 0;
}

int64_t dsm_atomic_load(int64_t* p) {
  int64_t r = 0;
  DSM_C_CALL(r = dsm::atomic_ref<int64_t>(*p).load());
  return r;
}
int64_t dsm_atomic_fetch_add(int64_t* p, int64_t value) {
  int64_t r = 0;
  DSM_C_CALL(r = dsm::atomic_ref<int64_t>(*p).fetch_add(value));
  return r;
}
int64_t dsm_atomic_exchange(int64_t* p, int64_t value) {
  int64_t r = 0;
  DSM_C_CALL(r = dsm::atomic_ref<int64_t>(*p).exchange(value));
  return r;
}
int64_t dsm_atomic_compare_exchange(int64_t* p, int64_t expected, int64_t desired) {
  int64_t r = expected;
  DSM_C_CALL(dsm::atomic_ref<int64_t>(*p).compare_exchange_strong(r, desired));
  return r;
}
int dsm_bind(uint64_t id, const void* p, size_t bytes) {
  DSM_C_TRY(dsm::detail::bind_bytes(id, p, bytes), -1);
  return 0;
}

// Condition variables.
void dsm_cond_wait(uint64_t cv_id, uint64_t lock_id) {
  DSM_C_CALL(dsm::check_user_lock(lock_id); dsm::ctx().condvars->wait(cv_id, lock_id));
}
void dsm_cond_signal(uint64_t cv_id) { DSM_C_CALL(dsm::condition_variable(cv_id).notify_one()); }
void dsm_cond_broadcast(uint64_t cv_id) { DSM_C_CALL(dsm::condition_variable(cv_id).notify_all()); }

}  // extern "C"
