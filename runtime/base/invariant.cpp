// invariant.cpp: the switch of the expensive checks (invariant.hpp).
#include "base/invariant.hpp"

namespace dsm::rt {

bool g_invariant_checks = false;

}  // namespace dsm::rt
