// options.hpp: the runtime's configuration, read once at init from DSM_* environment variables and
// --dsm-* command-line flags (a flag overrides its variable and is removed from argv).
//
// Parsing is pure (no MPI, no globals) so that unit tests cover every rule. Errors throw dsm::error
// whose message names the variable, the value and the valid choices; init turns that into one
// report and a non-zero exit on every rank. Not thread safe; called once per rank.
#ifndef DSM_RUNTIME_BASE_OPTIONS_HPP_
#define DSM_RUNTIME_BASE_OPTIONS_HPP_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "dsm/dsm.hpp"

namespace dsm::rt {

// An init error whose cause is on another rank; the report prefers the rank that has the cause.
struct peer_error : dsm::error {
  using dsm::error::error;
};

enum class transport_kind { automatic, shm, mpi };
// DSM_BIND: none leaves the affinity the launcher gave; core binds each rank (and its engine thread)
// to one core, round-robin over the node's cores; automatic binds like core only when every rank of
// the node gets a core (or a hardware thread) of its own and the launcher has not bound it already.
enum class bind_mode { none, core, automatic };
enum class log_level { error = 0, warn = 1, info = 2, debug = 3 };
// DSM_HOME: where the release models keep each unit's home copy. first_touch: the first rank that
// writes the unit (eager release: that touches it); cyclic: unit % ranks; block: each allocation cut
// into one block of units per rank, in rank order.
enum class home_policy { first_touch, cyclic, block };
// DSM_LAZY: which protocol implements lazy release (and entry consistency's unbound data). home: HLRC,
// diffs applied at each unit's home, whole units fetched from it; homeless: TreadMarks, diffs kept
// by their writers and pulled by each rank that needs them.
enum class lazy_protocol { home, homeless };

struct options {
  dsm::model model = dsm::model::sequential;
  std::uint64_t size = std::uint64_t{16} << 30;  // DSM_SIZE: the global space, reserved
  std::uint64_t unit = 4096;                     // DSM_UNIT: the coherence unit
  std::uint64_t arena = std::uint64_t{1} << 30;  // DSM_ARENA: each rank's arena for dsm::malloc_bytes, above DSM_SIZE
  bool stats_table = false;                      // DSM_STATS=1
  std::string stats_path;                        // DSM_STATS=<path>.json
  transport_kind transport = transport_kind::automatic;
  // DSM_NODE_SHM: whether ranks of one node use what they share. on: the shared-memory message
  // queues (node_shm) and the node-local fast path for unit data (node_data: coherence/node_homes).
  // queues: the queues only, every miss a request and a reply. off: every rank acts as a node of
  // its own, so node-mates talk through MPI as ranks of different nodes do (a cluster emulated on
  // one machine).
  bool node_shm = true;
  bool node_data = true;
  // DSM_QUEUE_SLOTS: slots in each shared-memory ring; 0 means 64 + 16 x ranks. A few slots keep the
  // rings full and test that nothing waits on a full ring (transport.hpp).
  std::uint64_t queue_slots = 0;
  // DSM_NODE_RANKS: at most this many ranks make one node; a host's ranks are cut into nodes of this
  // many (by node-local rank) that share memory only among themselves and talk to each other
  // through MPI, as separate hosts would (a cluster of several nodes emulated on one machine, for
  // tests). 0: each host is one node.
  std::uint64_t node_ranks = 0;
  bind_mode bind = bind_mode::none;
  log_level log = log_level::warn;
  std::uint64_t gc_bytes = std::uint64_t{64} << 20;  // DSM_GC_BYTES: lazy release collects garbage past this
  home_policy home = home_policy::first_touch;    // DSM_HOME
  lazy_protocol lazy = lazy_protocol::home;       // DSM_LAZY
  std::uint64_t prefetch = 4;                     // DSM_PREFETCH: units a home-based read miss may bring
  bool check = false;  // DSM_CHECK=1: report a write to data bound to a lock not held exclusively
  bool invariants = false;  // DSM_INVARIANTS=1: the expensive invariant checks (base/invariant.hpp)
  std::string trace_path;                        // DSM_TRACE=<path>.json: protocol events, Chrome trace format
  std::uint64_t trace_events = std::uint64_t{1} << 20;  // DSM_TRACE_EVENTS: events kept per rank
  bool chaos = false;                            // DSM_CHAOS=<seed>[:pairs]: injected delays and reordering (tests)
  std::uint64_t chaos_seed = 0;
  bool chaos_pairs = false;                      // :pairs: reorder within a pair too, but for the orders relied on

  // A canonical one-line form, the same on every rank iff the configuration is.
  std::string describe() const;
};

// Looks a variable up: returns its value or nothing. Production uses getenv.
using env_lookup = std::function<std::optional<std::string>(const std::string&)>;

// Reads the configuration. argc/argv may be null; --dsm-<name>=<value> flags are removed from them.
// Throws dsm::error on an unknown flag or an unknown or malformed value.
options parse_options(const env_lookup& env, int* argc, char*** argv, std::size_t os_page);

// Single-value parsers, exposed for the unit tests.
dsm::model parse_model(const std::string& variable, const std::string& value);

// How DSM_MODEL spells each model this build knows: its name (dsm::model_name) and its short form.
// One line per model (options.cpp).
struct model_spelling {
  dsm::model model;
  const char* name;   // "eager-release"
  const char* alias;  // "erc"
};
const std::vector<model_spelling>& model_spellings();
// The model's name; "unknown" for none.
const char* name_of(dsm::model m) noexcept;
std::uint64_t parse_size(const std::string& variable, const std::string& value);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_BASE_OPTIONS_HPP_
