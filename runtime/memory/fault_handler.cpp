// fault_handler.cpp: see fault_handler.hpp.
#include "memory/fault_handler.hpp"

#include <signal.h>
#include <ucontext.h>

#include <cerrno>
#include <cstring>

#include "coherence/protocol.hpp"
#include "core/context.hpp"
#include "core/log.hpp"
#include "core/trace.hpp"

namespace dsm::rt {
namespace {

struct sigaction g_previous;
struct sigaction g_previous_trap;
bool g_installed = false;
bool g_trap_installed = false;

// DSM_CHECK=1: a write let through to a unit that also holds data bound to a lock this rank does
// not hold exclusively runs one instruction at a time (the trap flag), and the unit loses write
// access again after it, so that every write to that unit is checked.
constexpr unsigned long long kTrapFlag = 0x100;
thread_local std::uint64_t t_watched = ~std::uint64_t{0};

void watch(context* ctx, std::uint64_t u, void* uctx) {
  if (!ctx->opt.check || !ctx->proto->watch_writes(u)) return;
  t_watched = u;
  static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_EFL] |= kTrapFlag;
}

void on_trap(int sig, siginfo_t* info, void* uctx) {
  context* ctx = g_ctx;
  if (t_watched == ~std::uint64_t{0} || ctx == nullptr) {
    if ((g_previous_trap.sa_flags & SA_SIGINFO) && g_previous_trap.sa_sigaction != nullptr) {
      g_previous_trap.sa_sigaction(sig, info, uctx);
    } else if (g_previous_trap.sa_handler != SIG_DFL && g_previous_trap.sa_handler != SIG_IGN) {
      g_previous_trap.sa_handler(sig);
    } else {
      signal(SIGTRAP, SIG_DFL);
    }
    return;
  }
  static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_EFL] &= ~kTrapFlag;
  std::lock_guard<runtime_mutex> g(ctx->state_mu);
  ctx->table->drop_write(t_watched);
  t_watched = ~std::uint64_t{0};
}

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
  if (runtime_mutex::busy()) {
    // This thread holds a lock of the runtime's or waits for a reply: the fault was taken inside a
    // signal handler that interrupted a dsm call. Serving it would wait for that call.
    fatal("shared memory at %p was touched while this thread was inside a dsm call (by a signal handler, most "
          "likely): a signal handler may touch shared memory only while its thread is outside dsm (block the "
          "signal around dsm calls, or let the handler set a flag that the program acts on)",
          info->si_addr);
  }
#if defined(__x86_64__)
  const bool write = (static_cast<ucontext_t*>(uctx)->uc_mcontext.gregs[REG_ERR] & 0x2) != 0;
#else
#error "dsm needs the page-fault error code to tell reads from writes on this architecture"
#endif
  const std::uint64_t u = ctx->space->unit_of(info->si_addr);
  if (write && ctx->opt.check) ctx->proto->check_write(static_cast<const std::byte*>(info->si_addr));
  bool remapped;
  {
    std::lock_guard<runtime_mutex> g(ctx->state_mu);
    remapped = ctx->table->map_if_allowed(u, write);  // valid here, only the mapping was dropped
  }
  if (remapped) {
    bump(ctx->stats.remaps);
  } else {
    trace::span miss(write ? trace::ev::write_miss : trace::ev::read_miss, u);
    if (write) ctx->proto->write_miss(u);
    else ctx->proto->read_miss(u);
  }
  if (write) watch(ctx, u, uctx);
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
  if (g_ctx != nullptr && g_ctx->opt.check) {
    sa.sa_sigaction = on_trap;
    if (sigaction(SIGTRAP, &sa, &g_previous_trap) != 0) fatal("cannot install the SIGTRAP handler: %s", std::strerror(errno));
    g_trap_installed = true;
  }
}

void remove_fault_handler() {
  if (!g_installed) return;
  sigaction(SIGSEGV, &g_previous, nullptr);
  g_installed = false;
  if (g_trap_installed) sigaction(SIGTRAP, &g_previous_trap, nullptr);
  g_trap_installed = false;
}

}  // namespace dsm::rt
