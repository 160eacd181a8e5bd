// fault_handler.cpp: see fault_handler.hpp.
#include "memory/fault_handler.hpp"

#include <signal.h>
#include <ucontext.h>

#include <cerrno>
#include <cstring>

#include "coherence/protocol.hpp"
#include "core/context.hpp"
#include "core/log.hpp"

namespace dsm::rt {
namespace {

struct sigaction g_previous;
bool g_installed = false;

void give_up(int sig, siginfo_t* info, void* uctx) {
  // Not ours: put back what was there before and let the access fault again under it.
  if ((g_previous.sa_flags & SA_SIGINFO) && g_previous.sa_sigaction != nullptr) {
    g_previous.sa_sigaction(sig, info, uctx);
    return;
  }
  if (g_previous.sa_handler != SIG_DFL && g_previous.sa_handler != SIG_IGN) {
    g_previous.sa_handler(sig);
    return;
  }
  signal(SIGSEGV, SIG_DFL);
}

void on_segv(int sig, siginfo_t* info, void* uctx) {
  const int saved_errno = errno;
  context* ctx = g_ctx;
  if (ctx == nullptr || ctx->space == nullptr || !ctx->space->contains(info->si_addr)) {
    give_up(sig, info, uctx);
    errno = saved_errno;
    return;
  }
#if defined(__x86_64__)
  const bool write = (static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_ERR] & 0x2) != 0;
#else
#error "dsm needs the page-fault error code to tell reads from writes on this architecture"
#endif
  const std::uint64_t u = ctx->space->unit_of(info->si_addr);
  {
    std::lock_guard<std::mutex> g(ctx->state_mu);
    if (ctx->table->map_if_allowed(u, write)) {
      // Valid here; only the mapping was dropped (see unit_table.hpp).
      bump(ctx->stats.remaps);
      errno = saved_errno;
      return;
    }
  }
  if (write) ctx->proto->write_miss(u);
  else ctx->proto->read_miss(u);
  errno = saved_errno;
}

}  // namespace

void install_fault_handler() {
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  sigemptyset(&sa.sa_mask);
  if (sigaction(SIGSEGV, &sa, &g_previous) != 0) fatal("cannot install the SIGSEGV handler: %s", std::strerror(errno));
  // A sanitizer may keep SIGSEGV for itself and ignore the call above (AddressSanitizer with
  // handle_segv=2 or allow_user_segv_handler=0): then every first touch of a unit would be reported
  // as a crash. Say so now, once, instead.
  struct sigaction now;
  if (sigaction(SIGSEGV, nullptr, &now) != 0 || !(now.sa_flags & SA_SIGINFO) || now.sa_sigaction != on_segv) {
    fatal("the SIGSEGV handler could not be installed: another handler keeps the signal (under AddressSanitizer "
          "run with ASAN_OPTIONS=handle_segv=1:allow_user_segv_handler=1)");
  }
  g_installed = true;
}

void remove_fault_handler() {
  if (!g_installed) return;
  sigaction(SIGSEGV, &g_previous, nullptr);
  g_installed = false;
}

}  // namespace dsm::rt
