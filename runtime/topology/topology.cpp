// topology.cpp: see topology.hpp.
#include "topology/topology.hpp"

#include <hwloc.h>

namespace dsm::rt {

std::string describe_machine() {
  hwloc_topology_t topo;
  if (hwloc_topology_init(&topo) != 0) return "topology unknown (hwloc_topology_init failed)";
  if (hwloc_topology_load(topo) != 0) {
    hwloc_topology_destroy(topo);
    return "topology unknown (hwloc_topology_load failed)";
  }
  const int packages = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PACKAGE);
  const int cores = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_CORE);
  const int pus = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_PU);
  const int numa = hwloc_get_nbobjs_by_type(topo, HWLOC_OBJ_NUMANODE);
  hwloc_topology_destroy(topo);
  return std::to_string(packages) + " package(s), " + std::to_string(numa) + " NUMA node(s), " + std::to_string(cores) +
         " core(s), " + std::to_string(pus) + " hardware thread(s)";
}

}  // namespace dsm::rt
