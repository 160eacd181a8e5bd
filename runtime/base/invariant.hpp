// invariant.hpp: the expensive level of the runtime's checks (STYLE.md: cheap / internal / expensive).
//
// DSM_INVARIANT(cond, fmt, ...) re-validates or walks state to catch a runtime bug where it happens
// (a diff that does not reproduce its unit, an invalid outgoing message, a lock token in two places,
// a vector time that disagrees with the interval log). It is compiled in only with DSM_CHECKS
// (cmake -DDSM_CHECKS=ON, the default for Debug builds; scripts/test.sh runs the whole suite once
// that way, in build-checks/); otherwise the condition is type-checked but never evaluated. The
// message must start with a string literal. A failure ends the job like DSM_REQUIRE (base/log.hpp): one
// allocation-free fatal() naming the rank, safe in the fault handler. kInvariantChecks tells code
// that needs more than one expression whether the checks are on.
#ifndef DSM_RUNTIME_BASE_INVARIANT_HPP_
#define DSM_RUNTIME_BASE_INVARIANT_HPP_

#include "base/log.hpp"

#ifndef DSM_CHECKS
#define DSM_CHECKS 0
#endif

namespace dsm::rt {
inline constexpr bool kInvariantChecks = DSM_CHECKS != 0;
}  // namespace dsm::rt

#if DSM_CHECKS
#define DSM_INVARIANT(cond, ...) DSM_REQUIRE(cond, "invariant violated: " __VA_ARGS__)
#else
#define DSM_INVARIANT(cond, ...) \
  do {                           \
    if (false) (void)(cond);     \
  } while (0)
#endif

#endif  // DSM_RUNTIME_BASE_INVARIANT_HPP_
