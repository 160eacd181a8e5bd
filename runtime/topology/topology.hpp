// topology.hpp: what the machine looks like (hwloc is used here and nowhere else). Thread safe.
#ifndef DSM_RUNTIME_TOPOLOGY_TOPOLOGY_HPP_
#define DSM_RUNTIME_TOPOLOGY_TOPOLOGY_HPP_

#include <string>

namespace dsm::rt {

// One line: packages, cores and hardware threads of this node, for DSM_LOG=info.
std::string describe_machine();

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TOPOLOGY_TOPOLOGY_HPP_
