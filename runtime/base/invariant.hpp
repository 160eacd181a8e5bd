// invariant.hpp: the expensive level of the runtime's checks (STYLE.md: cheap / internal / expensive).
//
// DSM_INVARIANT(cond, fmt, ...) re-validates or walks state to catch a runtime bug where it happens
// (a diff that does not reproduce its unit, an invalid outgoing message, a lock token in two places,
// a vector time that disagrees with the interval log). Every build has the checks; they run only
// when DSM_INVARIANTS=1 (options.hpp; scripts/test.sh runs the semantics and litmus tests a second
// time that way). Otherwise the condition is type-checked but never evaluated, for the cost of one
// predictable branch on a flag. The message must start with a string literal. A failure ends the job
// like DSM_REQUIRE (base/log.hpp): one allocation-free fatal() naming the rank, safe in the fault
// handler. invariant_checks() tells code that needs more than one expression whether they are on.
#ifndef DSM_RUNTIME_BASE_INVARIANT_HPP_
#define DSM_RUNTIME_BASE_INVARIANT_HPP_

#include "base/log.hpp"

namespace dsm::rt {

// Set once by init from DSM_INVARIANTS, before the runtime starts a thread; read-only afterwards.
extern bool g_invariant_checks;
inline bool invariant_checks() noexcept { return g_invariant_checks; }

}  // namespace dsm::rt

#define DSM_INVARIANT(cond, ...)                                              \
  do {                                                                        \
    if (::dsm::rt::invariant_checks()) [[unlikely]] {                         \
      DSM_REQUIRE(cond, "invariant violated: " __VA_ARGS__);                  \
    }                                                                         \
  } while (0)

#endif  // DSM_RUNTIME_BASE_INVARIANT_HPP_
