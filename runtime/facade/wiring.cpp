// wiring.cpp: dsm::init and dsm::finalize (api/dsm/dsm.hpp): the runtime of one rank built layer
// by layer, bottom up, each service given what it uses, and the messages routed to the services
// that handle them; then taken down again. Both are collective.
#include <malloc.h>
#include <mpi.h>
#include <unistd.h>

#include <cerrno>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>

#include "base/invariant.hpp"
#include "base/log.hpp"
#include "base/trace.hpp"
#include "coherence/fault_handler.hpp"
#include "dsm/dsm.hpp"
#include "facade/runtime.hpp"
#include "interpose/bounce.hpp"
#include "memory/node_memory.hpp"
#include "topology/topology.hpp"
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

// glibc gives the top of the heap back to the kernel whenever more than 128 KiB of it is free, and
// maps each allocation of 128 KiB or more on its own until one is freed: the buffers of each
// barrier and bulk message, allocated and freed again, then cost the kernel a fault and a zeroed
// page for every 4 KiB at every call. (Jacobi 1024 at 2 hosts x 2 ranks under lazy release: 1.66x
// plain MPI's time with glibc's defaults, 1.44x keeping freed heap, median of 8 alternating runs.)
// So the process keeps up to 64 MiB of freed heap, and takes blocks under 32 MiB (glibc's upper
// bound, where its own threshold would climb) from the heap, unless the environment chose
// (MALLOC_TRIM_THRESHOLD_, MALLOC_MMAP_THRESHOLD_, GLIBC_TUNABLES with glibc.malloc).
void keep_freed_heap() {
  const char* tunables = std::getenv("GLIBC_TUNABLES");
  if (tunables != nullptr && std::strstr(tunables, "glibc.malloc.") != nullptr) return;
  if (std::getenv("MALLOC_TRIM_THRESHOLD_") == nullptr) mallopt(M_TRIM_THRESHOLD, 64 << 20);
  if (std::getenv("MALLOC_MMAP_THRESHOLD_") == nullptr) mallopt(M_MMAP_THRESHOLD, 32 << 20);
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
void read_options(rt::runtime* c, int* argc, char*** argv) {
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
int place_rank(rt::runtime* c) {
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
void make_space_and_transport(rt::runtime* c, const rt::model_setup& setup) {
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
    // A chunk of unit data, or a diff of such a chunk (at worst the chunk as one run, plus its
    // header), as many units as the model sends in one message, and what travels with them.
    const std::uint32_t max_payload = static_cast<std::uint32_t>(
        std::min<std::uint64_t>(c->opt.unit * setup.units_per_message, std::uint64_t{256} << 10) + setup.extra_bytes);
    c->net = rt::make_node_transport(c->comm, c->opt, max_payload, c->stats);
  });
}

void make_node_homes(rt::runtime* c, const rt::model_setup& setup) {
  const int rank = c->rank, ranks = c->ranks;
  // Node-mates read each other's home copies directly where the model keeps a master copy at the
  // home that stays valid while the home is not writing it (eager release, home-based lazy release).
  // Every fast path agrees across the ranks whether it could be set up; where it could not (a
  // small `ulimit -v`, /dev/shm full), the job goes on with messages, and says so.
  if (setup.node_homes && c->opt.node_data && c->opt.transport != rt::transport_kind::mpi && ranks > 1) {
    try {
      c->homes = std::make_unique<rt::node_homes>(c->comm, *c->space, rank, ranks, c->opt.node_ranks);
      DSM_LOG(info, "%s", c->homes->describe().c_str());
    } catch (const dsm::error& e) {
      DSM_LOG(warn, "%s; node-mates' misses go by message", e.what());
    }
  }
}

// The unit table, as every unit starts under the model, and the model's protocol.
void make_units_and_protocol(rt::runtime* c, const rt::model_entry& model, const rt::model_setup& setup) {
  const int rank = c->rank, ranks = c->ranks;
  // As allocated, every unit is zero, held as the model says (sequential consistency: its home
  // owns it; release consistency: the home holds a clean copy; lazy release: every rank does).
  c->table = std::make_unique<rt::unit_table>(*c->space, rank, ranks, rt::unit_table::default_map_budget(),
                                              setup.at_home, setup.elsewhere, setup.homes);
  c->lim = {ranks, c->space->units(), c->space->unit(), c->net->max_payload()};
  c->heap = std::make_unique<rt::allocator>(c->opt.size, c->opt.unit);
  c->arena = std::make_unique<rt::arenas>(*c, c->opt.size, c->opt.arena);
  c->proto = model.make(*c, {.homes = c->homes.get(), .heap = c->heap.get(), .arena = c->arena.get(), .bound = &c->bound});
}

void make_sync(rt::runtime* c, int locals) {
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
  c->locks = std::make_unique<rt::lock_service>(*c, *c->proto, std::move(shared_locks), node_data && locals < ranks);
  c->barriers = std::make_unique<rt::barrier_service>(*c, *c->proto, std::move(shared_barrier), leader_of);
  c->condvars = std::make_unique<rt::condvar_service>(*c, *c->proto, *c->locks);
}

// Which service handles each message type: requests on the engine thread, replies on the
// application thread (engine/context.hpp).
void route_messages(rt::runtime* c) {
  using rt::msg;
  c->handle_requests({msg::read_req, msg::write_req, msg::read_fwd, msg::write_fwd, msg::invalidate, msg::confirm,
                      msg::diff_push, msg::diff_fwd, msg::diff_req, msg::ec_acq, msg::ec_fwd, msg::ec_done,
                      msg::home_claim, msg::fetch_req, msg::home_diff},
                     [p = c->proto.get()](const rt::header& h, std::span<const std::byte> payload) { p->handle(h, payload); });
  c->handle_replies({msg::unit_data, msg::inv_ack, msg::diff_ack, msg::diff_reply, msg::ec_grant, msg::ec_fail,
                     msg::home_is, msg::fetch_reply},
                    [p = c->proto.get()](rt::app_op& op, const rt::header& h, std::span<const std::byte> payload) {
                      p->handle_reply(op, h, payload);
                    });
  c->handle_requests({msg::lock_acq, msg::lock_fwd, msg::lock_try, msg::lock_try_fwd, msg::lock_try_done,
                      msg::lock_fwd_node, msg::lock_claim_fwd},
                     [l = c->locks.get()](const rt::header& h, std::span<const std::byte> payload) { l->handle(h, payload); });
  c->handle_replies({msg::lock_token, msg::lock_try_fail},
                    [l = c->locks.get()](rt::app_op& op, const rt::header& h, std::span<const std::byte>) { l->handle_reply(op, h); });
  c->handle_requests({msg::barrier_arrive, msg::barrier_data, msg::barrier_pass},
                     [b = c->barriers.get()](const rt::header& h, std::span<const std::byte> payload) { b->handle(h, payload); });
  c->handle_replies({msg::barrier_release}, [](rt::app_op& op, const rt::header&, std::span<const std::byte>) { op.done = true; });
  c->handle_replies({msg::barrier_swap}, [](rt::app_op& op, const rt::header& h, std::span<const std::byte>) {
    op.covered = h.arg;
    op.done = true;
  });
  c->handle_requests({msg::arena_free}, [a = c->arena.get()](const rt::header& h, std::span<const std::byte>) { a->handle(h); });
  c->handle_replies({msg::arena_freed},
                    [](rt::app_op& op, const rt::header& h, std::span<const std::byte>) { rt::arenas::handle_reply(op, h); });
  c->handle_requests({msg::cv_wait, msg::cv_notify, msg::cv_signal, msg::cv_cancel, msg::finalizing},
                     [v = c->condvars.get()](const rt::header& h, std::span<const std::byte> payload) { v->handle(h, payload); });
  c->handle_replies({msg::cv_queued, msg::cv_notified, msg::cv_wake, msg::cv_cancelled},
                    [v = c->condvars.get()](rt::app_op& op, const rt::header& h, std::span<const std::byte>) { v->handle_reply(op, h); });
}

// The configuration, the space and the transport, in the log (DSM_LOG=info).
void describe_job(const rt::runtime* c) {
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
  keep_freed_heap();
  const bool owns = start_mpi(argc, argv);
  auto c = std::make_unique<rt::runtime>();
  c->owns_mpi = owns;
  MPI_Comm_rank(MPI_COMM_WORLD, &c->rank);
  MPI_Comm_size(MPI_COMM_WORLD, &c->ranks);
  read_options(c.get(), argc, argv);
  rt::set_log_identity(c->rank, c->opt.log);
  rt::g_invariant_checks = c->opt.invariants;
  MPI_Comm_dup(MPI_COMM_WORLD, &c->comm);
  rt::trace::start(c->comm, c->rank, c->ranks, c->opt.trace_path, c->opt.log >= rt::log_level::debug, c->opt.trace_events,
                   model_name(c->opt.model), [](std::uint16_t type) noexcept { return rt::msg_name(static_cast<rt::msg>(type)); });
  const int locals = place_rank(c.get());
  const rt::model_entry& model = rt::model_of(c->opt);
  const rt::model_setup setup = model.setup(c->opt);
  make_space_and_transport(c.get(), setup);
  make_node_homes(c.get(), setup);
  make_units_and_protocol(c.get(), model, setup);
  make_sync(c.get(), locals);
  route_messages(c.get());
  describe_job(c.get());
  rt::runtime& r = *c.release();
  g_ctx = &r;
  rt::install_terminate_handler();
  rt::install_fault_handler(*r.proto);
  r.start_engine();
}

bool initialized() noexcept { return g_ctx != nullptr; }

void finalize() {
  if (g_ctx == nullptr) return;
  rt::runtime& c = *rt::the_runtime();
  // A lock still held here would leave every rank that waits for it hanging (and this rank waiting
  // for them in the finalize barrier): end the job instead, naming the lock.
  if (const std::optional<std::uint64_t> held = c.proto->locks() ? c.proto->locks()->any_held() : c.locks->any_held()) {
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


}  // namespace dsm
