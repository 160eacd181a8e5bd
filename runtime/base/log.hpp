// log.hpp: logging (DSM_LOG) and the one allocation-free fatal() that ends the whole job.
//
// log() may be called from any runtime thread; lines are written with one write(2) so that they do
// not interleave. An uncaught exception is reported with the rank (install_terminate_handler). fatal() prints "dsm: rank R: fatal: <cause>" and aborts every rank of the job
// (MPI_Abort); it is what the fault handler and the transport call when they cannot go on.
#ifndef DSM_RUNTIME_BASE_LOG_HPP_
#define DSM_RUNTIME_BASE_LOG_HPP_

#include "base/options.hpp"

namespace dsm::rt {

void set_log_identity(int rank, log_level level);
bool log_enabled(log_level level);
void log(log_level level, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
[[noreturn]] void fatal(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
// Between init and finalize: an exception nobody catches (on any thread) first prints
// "dsm: rank R: fatal: uncaught exception: <what()>", then goes on to the std::terminate handler
// that was installed before (by default the one that prints the type and aborts, so mpirun ends
// the job and reports the rank's signal). Called by the application thread at init / finalize.
void install_terminate_handler();
void remove_terminate_handler();

}  // namespace dsm::rt

#define DSM_LOG(level, ...)                                                           \
  do {                                                                                \
    if (::dsm::rt::log_enabled(::dsm::rt::log_level::level)) ::dsm::rt::log(::dsm::rt::log_level::level, __VA_ARGS__); \
  } while (0)

// Cheap checks, always on; failures are runtime bugs or corrupt messages, so they end the job.
// (Not to be confused with DSM_CHECK=1, the entry model's lock-discipline checker, or with the
// DSM_INVARIANTS=1, which turns on the expensive DSM_INVARIANT checks of invariant.hpp.)
#define DSM_REQUIRE(cond, ...)                                  \
  do {                                                        \
    if (__builtin_expect(!(cond), 0)) ::dsm::rt::fatal(__VA_ARGS__); \
  } while (0)

#endif  // DSM_RUNTIME_BASE_LOG_HPP_
