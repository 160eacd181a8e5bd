// log.cpp: see log.hpp.
#include "base/log.hpp"

#include <mpi.h>
#include <unistd.h>

#include <atomic>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <exception>

namespace dsm::rt {
namespace {
std::atomic<int> g_rank{-1};
std::atomic<int> g_level{static_cast<int>(log_level::warn)};
const char* const kLevelNames[] = {"error", "warn", "info", "debug"};

void emit(const char* prefix, const char* fmt, va_list ap) {
  char buf[1024];
  int n = std::snprintf(buf, sizeof buf, "dsm: rank %d: %s", g_rank.load(), prefix);
  if (n < 0) n = 0;
  if (n < static_cast<int>(sizeof buf)) {
    int m = std::vsnprintf(buf + n, sizeof buf - static_cast<size_t>(n), fmt, ap);
    if (m > 0) n += m;
  }
  if (n >= static_cast<int>(sizeof buf) - 1) n = sizeof buf - 2;
  buf[n++] = '\n';
  ssize_t ignored = ::write(STDERR_FILENO, buf, static_cast<size_t>(n));
  (void)ignored;
}
void report(const char* prefix, const char* fmt, ...) __attribute__((format(printf, 2, 3)));
void report(const char* prefix, const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit(prefix, fmt, ap);
  va_end(ap);
}

std::terminate_handler g_previous_terminate = nullptr;

void on_terminate() {
  if (std::exception_ptr e = std::current_exception()) {
    try {
      std::rethrow_exception(e);
    } catch (const std::exception& x) {
      report("fatal: ", "uncaught exception: %s", x.what());
    } catch (...) {
      report("fatal: ", "uncaught exception of a type not derived from std::exception");
    }
  } else {
    report("fatal: ", "std::terminate called without an exception");
  }
  if (g_previous_terminate != nullptr) g_previous_terminate();
  std::abort();
}
}  // namespace

void install_terminate_handler() {
  std::terminate_handler previous = std::set_terminate(on_terminate);
  if (previous != on_terminate) g_previous_terminate = previous;
}

void remove_terminate_handler() {
  if (std::get_terminate() == on_terminate) std::set_terminate(g_previous_terminate);
}

void set_log_identity(int rank, log_level level) {
  g_rank = rank;
  g_level = static_cast<int>(level);
}

bool log_enabled(log_level level) { return static_cast<int>(level) <= g_level.load(std::memory_order_relaxed); }

void log(log_level level, const char* fmt, ...) {
  char prefix[16];
  std::snprintf(prefix, sizeof prefix, "%s: ", kLevelNames[static_cast<int>(level)]);
  va_list ap;
  va_start(ap, fmt);
  emit(prefix, fmt, ap);
  va_end(ap);
}

void fatal(const char* fmt, ...) {
  va_list ap;
  va_start(ap, fmt);
  emit("fatal: ", fmt, ap);
  va_end(ap);
  int initialized = 0, finalized = 0;
  MPI_Initialized(&initialized);
  MPI_Finalized(&finalized);
  if (initialized && !finalized) MPI_Abort(MPI_COMM_WORLD, 3);
  std::_Exit(3);
}

}  // namespace dsm::rt
