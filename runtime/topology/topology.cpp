// topology.cpp: hwloc discovery and DSM_BIND placement; see topology.hpp.
#include "topology/topology.hpp"

#include <hwloc.h>

#include <algorithm>
#include <cerrno>

#include "dsm/dsm.hpp"

namespace dsm::rt {
namespace {

// An hwloc bitmap that frees itself.
struct bitmap {
  hwloc_bitmap_t b = hwloc_bitmap_alloc();
  bitmap() {
    if (b == nullptr) throw std::bad_alloc();
  }
  ~bitmap() { hwloc_bitmap_free(b); }
  bitmap(const bitmap&) = delete;
  bitmap& operator=(const bitmap&) = delete;
};

cpu_list to_list(hwloc_const_bitmap_t set) {
  cpu_list out;
  for (int i = hwloc_bitmap_first(set); i != -1; i = hwloc_bitmap_next(set, i)) out.push_back(static_cast<unsigned>(i));
  return out;
}

void from_list(const cpu_list& cpus, hwloc_bitmap_t set) {
  hwloc_bitmap_zero(set);
  for (unsigned c : cpus) hwloc_bitmap_set(set, c);
}

// The PUs of core i (logical order), by OS index.
cpu_list pus_of_core(hwloc_topology_t topo, int i) {
  hwloc_obj_t core = hwloc_get_obj_by_type(topo, HWLOC_OBJ_CORE, static_cast<unsigned>(i));
  return core == nullptr ? cpu_list{} : to_list(core->cpuset);
}

}  // namespace

std::string cpu_list_string(const cpu_list& cpus) {
  if (cpus.empty()) return "none";
  std::string s;
  for (std::size_t i = 0; i < cpus.size();) {
    std::size_t j = i;
    while (j + 1 < cpus.size() && cpus[j + 1] == cpus[j] + 1) ++j;
    if (!s.empty()) s += ',';
    s += std::to_string(cpus[i]);
    if (j > i) s += '-' + std::to_string(cpus[j]);
    i = j + 1;
  }
  return s;
}

machine::machine() {
  if (hwloc_topology_init(&topo_) != 0) throw dsm::error("hwloc_topology_init failed");
  if (hwloc_topology_load(topo_) != 0) {
    hwloc_topology_destroy(topo_);
    throw dsm::error("hwloc could not load this node's topology");
  }
}

machine::machine(const std::string& synthetic) {
  if (hwloc_topology_init(&topo_) != 0) throw dsm::error("hwloc_topology_init failed");
  if (hwloc_topology_set_synthetic(topo_, synthetic.c_str()) != 0 || hwloc_topology_load(topo_) != 0) {
    hwloc_topology_destroy(topo_);
    throw dsm::error("hwloc refused the synthetic topology '" + synthetic + "'");
  }
}

machine::~machine() { hwloc_topology_destroy(topo_); }

int machine::cores() const { return hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_CORE); }
int machine::pus() const { return hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_PU); }

std::string machine::describe() const {
  const int packages = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_PACKAGE);
  const int numa = hwloc_get_nbobjs_by_type(topo_, HWLOC_OBJ_NUMANODE);
  std::string s = std::to_string(packages) + " package(s), " + std::to_string(numa) + " NUMA node(s), " +
                  std::to_string(cores()) + " core(s), " + std::to_string(pus()) + " hardware thread(s); cores (PUs):";
  constexpr int kListed = 32;  // a big node's list would drown the log
  for (int i = 0; i < std::min(cores(), kListed); ++i) {
    s += " " + std::to_string(i) + "(" + cpu_list_string(pus_of_core(topo_, i)) + ")";
  }
  if (cores() > kListed) s += " ...";
  return s;
}

placement machine::place(bind_mode mode, int local, int locals, bool launcher_bound) const {
  placement p;
  const int ncores = cores(), npus = pus();
  const std::string who = "node-local rank " + std::to_string(local) + " of " + std::to_string(locals);
  auto on_core = [&](int core, const std::string& why) {
    p.bind = true;
    p.rank_cpus = pus_of_core(topo_, core);
    p.engine_cpus = p.rank_cpus;
    p.decision = who + ": core " + std::to_string(core) + " (PU " + cpu_list_string(p.rank_cpus) +
                 "), engine thread on the same core" + why;
  };
  if (mode == bind_mode::none) {
    p.decision = who + ": not bound (DSM_BIND=none)";
  } else if (ncores < 1 || npus < 1) {
    p.decision = who + ": not bound (hwloc found no cores)";
  } else if (mode == bind_mode::core) {
    const int sharing = (locals + ncores - 1) / ncores;
    on_core(local % ncores, locals > ncores ? "; oversubscribed: " + std::to_string(locals) + " ranks share " +
                                                  std::to_string(ncores) + " core(s), up to " +
                                                  std::to_string(sharing) + " per core"
                                            : "");
  } else if (launcher_bound) {
    p.decision = who + ": not bound by dsm (DSM_BIND=auto keeps the launcher's binding)";
  } else if (locals <= ncores) {
    on_core(local, "");
  } else if (locals <= npus) {
    // One PU each: the first PU of every core, then the second of every core, and so on, so that
    // ranks share a core only once every core has one.
    cpu_list order;
    for (std::size_t k = 0; order.size() < static_cast<std::size_t>(npus); ++k) {
      for (int c = 0; c < ncores; ++c) {
        const cpu_list core = pus_of_core(topo_, c);
        if (k < core.size()) order.push_back(core[k]);
      }
    }
    p.bind = true;
    p.rank_cpus = {order[static_cast<std::size_t>(local)]};
    p.engine_cpus = p.rank_cpus;
    p.decision = who + ": PU " + cpu_list_string(p.rank_cpus) + " (more ranks than cores, one hardware thread each), "
                 "engine thread on the same PU";
  } else {
    p.decision = who + ": not bound (DSM_BIND=auto: " + std::to_string(locals) + " ranks on " + std::to_string(npus) +
                 " hardware thread(s) are oversubscribed, so the OS scheduler places them)";
  }
  return p;
}

bool machine::launcher_bound() const {
  bitmap cur;
  if (hwloc_get_cpubind(topo_, cur.b, HWLOC_CPUBIND_PROCESS) != 0) return false;
  return !hwloc_bitmap_isincluded(hwloc_topology_get_allowed_cpuset(topo_), cur.b);
}

cpu_list machine::process_binding() const {
  bitmap cur;
  if (hwloc_get_cpubind(topo_, cur.b, HWLOC_CPUBIND_PROCESS) != 0) return {};
  return to_list(cur.b);
}

cpu_list machine::thread_binding() const {
  bitmap cur;
  if (hwloc_get_cpubind(topo_, cur.b, HWLOC_CPUBIND_THREAD) != 0) return {};
  return to_list(cur.b);
}

bool machine::bind_process(const cpu_list& cpus) const {
  bitmap set;
  from_list(cpus, set.b);
  return hwloc_set_cpubind(topo_, set.b, HWLOC_CPUBIND_PROCESS) == 0;
}

bool machine::bind_thread(const cpu_list& cpus) const {
  bitmap set;
  from_list(cpus, set.b);
  return hwloc_set_cpubind(topo_, set.b, HWLOC_CPUBIND_THREAD) == 0;
}

}  // namespace dsm::rt
