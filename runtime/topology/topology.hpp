// topology.hpp: what this node looks like and where a rank and its engine thread run (DSM_BIND).
// hwloc is used here and nowhere else in the runtime.
//
// init (facade/wiring.cpp) builds one `machine` per rank, asks it for a `placement` given the rank's
// place among its node-mates (MPI_Comm_split_type MPI_COMM_TYPE_SHARED), binds the process to it
// before any runtime thread starts (so the fault service thread inherits it), and the engine thread
// binds itself to `placement::engine_cpus` when it starts. The policy (see place()):
//   none  leave the affinity as the launcher set it.
//   core  node-local rank l gets core l % cores (all hardware threads of that core); with more ranks
//         than cores the ranks share cores round-robin, evenly, and the log says so.
//   auto  like core when every rank of the node gets a core of its own; else, when every rank gets
//         a hardware thread (PU) of its own, one PU each, spread over the cores first; else (more
//         ranks than PUs: oversubscribed) no binding, so that the OS scheduler can move a rank
//         onto whichever PU is idle. A process the launcher already bound (mpirun --bind-to core)
//         is left as it is.
// The engine thread runs where its rank runs (the same core, or the same PU under auto's PU
// placement): it sleeps while its rank computes and wakes for requests, and keeping it beside the
// application thread keeps the units it copies in that core's cache.
//
// A machine is immutable after construction; its const members are thread safe (hwloc allows
// concurrent reads of a loaded topology). Nothing here is collective.
#ifndef DSM_RUNTIME_TOPOLOGY_TOPOLOGY_HPP_
#define DSM_RUNTIME_TOPOLOGY_TOPOLOGY_HPP_

#include <string>
#include <vector>

#include "base/options.hpp"

struct hwloc_topology;

namespace dsm::rt {

// Hardware threads by the kernel's CPU number (the OS index), ascending.
using cpu_list = std::vector<unsigned>;

// "0-3,8" style, as taskset and /proc print CPU lists; "none" if empty.
std::string cpu_list_string(const cpu_list& cpus);

struct placement {
  bool bind = false;     // false: leave the affinity as it is
  cpu_list rank_cpus;    // the process (all its threads) when bind
  cpu_list engine_cpus;  // the engine thread when bind
  std::string decision;  // one line for DSM_LOG=info: what was decided and why
};

class machine {
 public:
  // This node as this process may use it (hwloc's allowed resources). Throws dsm::error if hwloc
  // cannot load the topology.
  machine();
  // A synthetic node for the unit tests, in hwloc's synthetic syntax ("package:1 core:4 pu:2").
  explicit machine(const std::string& synthetic);
  ~machine();
  machine(const machine&) = delete;
  machine& operator=(const machine&) = delete;

  int cores() const;
  int pus() const;
  // One line: packages, NUMA nodes, cores and hardware threads, and the PUs of each core (of the
  // first 32).
  std::string describe() const;

  // Where node-local rank `local` of `locals` should run under `mode`. `launcher_bound`: the
  // process's current binding is narrower than the node (see launcher_bound()).
  placement place(bind_mode mode, int local, int locals, bool launcher_bound) const;

  // Whether this process is bound to fewer PUs than the node allows it (mpirun --bind-to ...).
  bool launcher_bound() const;
  // The current binding of the whole process / of the calling thread.
  cpu_list process_binding() const;
  cpu_list thread_binding() const;
  // Bind the whole process (every existing thread; threads started later inherit it) / only the
  // calling thread. Return false on failure (errno is set).
  [[nodiscard]] bool bind_process(const cpu_list& cpus) const;
  [[nodiscard]] bool bind_thread(const cpu_list& cpus) const;

 private:
  hwloc_topology* topo_ = nullptr;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TOPOLOGY_TOPOLOGY_HPP_
