// fault_handler.cpp: see fault_handler.hpp.
#include "coherence/fault_handler.hpp"

#include <pthread.h>
#include <signal.h>
#include <ucontext.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>

#include "base/futex.hpp"
#include "base/log.hpp"
#include "base/trace.hpp"
#include "coherence/protocol.hpp"
#include "engine/context.hpp"

namespace dsm::rt {
namespace {

struct sigaction g_previous;
struct sigaction g_previous_trap;
bool g_installed = false;
protocol* g_proto = nullptr;  // set while the handler is installed
bool g_trap_installed = false;

// DSM_CHECK=1: a write let through to a unit that also holds data bound to a lock this rank does
// not hold exclusively runs one instruction at a time (the trap flag), and the unit loses write
// access again after it, so that every write to that unit is checked.
constexpr unsigned long long kTrapFlag = 0x100;
thread_local std::uint64_t t_watched = ~std::uint64_t{0};

void watch(std::uint64_t u, void* uctx) {
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

// Brings the unit at addr here for the access (a miss, or only a mapping put back). True if the
// write must run one instruction at a time (DSM_CHECK, see watch).
bool serve(context* ctx, void* addr, bool write) {
  const std::uint64_t u = ctx->space->unit_of(addr);
  // DSM_CHECK=1 checks writes to data bound to locks, which only a model that serves locks has.
  lock_server* checker = write && ctx->opt.check ? g_proto->locks() : nullptr;
  if (checker) checker->check_write(static_cast<const std::byte*>(addr));
  bool remapped;
  {
    std::lock_guard<runtime_mutex> g(ctx->state_mu);
    remapped = ctx->table->map_if_allowed(u, write);  // valid here, only the mapping was dropped
  }
  if (remapped) {
    bump(ctx->stats.remaps);
  } else {
    trace::span miss(write ? trace::ev::write_miss : trace::ev::read_miss, u);
    if (write) g_proto->write_miss(u);
    else g_proto->read_miss(u);
  }
  return checker && checker->watch_writes(u);
}

// A fault inside a signal handler of the program's may have interrupted the C library holding one
// of its own locks (malloc's arena lock, say), and serve() allocates: on that thread it could wait
// forever for itself. Such a fault is served by the fault service instead, a thread started at
// init that sleeps on a futex until a handler hands it a fault. The handler's side allocates nothing
// and takes no lock but the gate, which only handlers take: it fills the one slot, wakes the service
// and sleeps until the unit is here. The service stands in for the application thread, which is
// stopped in the handler and outside dsm (runtime_mutex::busy said so), so its op_mu and inbox are
// free. A fault the service cannot serve ends the job there (fatal, or the terminate handler), with
// the handler still asleep.
//
// "Inside a signal handler" is read from the signal mask at the fault: the kernel blocks the
// handled signal while its handler runs (unless SA_NODEFER), so a signal blocked then but not in
// the application thread's mask at init means a handler. A program that blocks a signal for good
// after init sends every fault this way: slower, still right.
sigset_t g_ordinary_mask;

bool inside_signal_handler(const sigset_t& at_fault) {
  // The kernel saves the first 64 signals only; NSIG - 1 is 64 on Linux.
  for (int s = 1; s < NSIG; ++s) {
    if (sigismember(&at_fault, s) == 1 && sigismember(&g_ordinary_mask, s) == 0) return true;
  }
  return false;
}

constexpr std::uint32_t kIdle = 0, kFault = 1, kStop = 2;

struct handoff {
  std::atomic<std::uint32_t> gate{0};  // one handler at a time: 0 free, 1 taken, 2 taken and waited for
  std::atomic<std::uint32_t> request{kIdle};
  std::atomic<std::uint32_t> served{0};
  void* addr = nullptr;  // the slot: written by the handler holding the gate before `request`
  bool write = false;
  bool watched = false;  // serve()'s answer, written by the service before `served`
};
handoff g_handoff;
pthread_t g_service;
bool g_service_started = false;
std::atomic<std::uint64_t> g_handed_off{0};

void* run_fault_service(void*) {
  handoff& h = g_handoff;
  for (;;) {
    std::uint32_t r;
    while ((r = h.request.load(std::memory_order_acquire)) == kIdle) futex_wait(&h.request, kIdle);
    if (r == kStop) return nullptr;
    h.watched = serve(g_ctx, h.addr, h.write);
    g_handed_off.fetch_add(1, std::memory_order_relaxed);
    h.request.store(kIdle, std::memory_order_relaxed);
    h.served.store(1, std::memory_order_release);
    futex_wake(&h.served, 1);
  }
}

bool hand_off(void* addr, bool write) {
  handoff& h = g_handoff;
  // The gate is a futex lock (Drepper's "Futexes are tricky", mutex 2). Every signal is blocked in
  // this handler (install_fault_handler), so no handler of this thread's can wait for it here.
  std::uint32_t c = 0;
  if (!h.gate.compare_exchange_strong(c, 1, std::memory_order_acquire)) {
    if (c != 2) c = h.gate.exchange(2, std::memory_order_acquire);
    while (c != 0) {
      futex_wait(&h.gate, 2);
      c = h.gate.exchange(2, std::memory_order_acquire);
    }
  }
  h.addr = addr;
  h.write = write;
  h.served.store(0, std::memory_order_relaxed);
  h.request.store(kFault, std::memory_order_release);
  futex_wake(&h.request, 1);
  while (h.served.load(std::memory_order_acquire) == 0) futex_wait(&h.served, 0);
  const bool watched = h.watched;
  if (h.gate.exchange(0, std::memory_order_release) == 2) futex_wake(&h.gate, 1);
  return watched;
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
  const ucontext_t* at_fault = static_cast<const ucontext_t*>(uctx);
  const bool watched = inside_signal_handler(at_fault->uc_sigmask) ? hand_off(info->si_addr, write)
                                                                    : serve(ctx, info->si_addr, write);
  if (watched) watch(ctx->space->unit_of(info->si_addr), uctx);
  errno = saved_errno;
}

}  // namespace

void install_fault_handler(protocol& proto) {
  g_proto = &proto;
  struct sigaction sa;
  std::memset(&sa, 0, sizeof sa);
  sa.sa_sigaction = on_segv;
  sa.sa_flags = SA_SIGINFO | SA_RESTART;
  // No signal handler may run on top of this one: one that touched shared memory would fault while
  // this thread is inside a miss (or holds the hand-off's gate) and wait for it.
  sigfillset(&sa.sa_mask);
  // The service thread blocks every signal: the program's handlers run on its own thread.
  sigset_t all;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &g_ordinary_mask);
  const int err = pthread_create(&g_service, nullptr, run_fault_service, nullptr);
  pthread_sigmask(SIG_SETMASK, &g_ordinary_mask, nullptr);
  if (err != 0) fatal("cannot start the fault service thread: %s", std::strerror(err));
  g_service_started = true;
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
  if (g_service_started) {
    g_handoff.request.store(kStop, std::memory_order_release);
    futex_wake(&g_handoff.request, 1);
    pthread_join(g_service, nullptr);
    g_handoff.request.store(kIdle, std::memory_order_relaxed);
    g_service_started = false;
  }
  g_proto = nullptr;
}

std::uint64_t faults_handed_off() noexcept { return g_handed_off.load(std::memory_order_relaxed); }

}  // namespace dsm::rt
