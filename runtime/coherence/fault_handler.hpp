// fault_handler.hpp: SIGSEGV-based access detection for page-granular units.
//
// install() puts a SA_SIGINFO handler in place. A fault inside the global space is a read or write
// miss (x86-64 reports which in the page-fault error code): the handler asks the protocol for the
// unit and returns, and the access re-executes. A fault anywhere else is the program's own bug: the
// handler restores the previous disposition (normally the default) and returns, so the access
// faults again and the process dies with SIGSEGV and a core, as it would without dsm.
//
// The ordinary path from the fault to the protocol's request takes the runtime's own locks and
// allocates, on the faulting thread. That is safe for a fault taken by the program's code, which
// holds none of them. A fault taken by a thread that does hold one, or waits for a reply, can only
// come from a signal handler of the program's that interrupted a dsm call: it would wait forever
// for the call it interrupted, so it ends the job with a message naming the address and the rule
// instead (runtime_mutex::busy). A fault inside a signal handler that interrupted the program
// outside dsm (in malloc, say, holding the C library's lock) is handed to the fault service, a
// thread of the runtime's that serves it in its stead: the handler's side allocates nothing and
// takes no lock that the interrupted code may hold (fault_handler.cpp).
#ifndef DSM_RUNTIME_COHERENCE_FAULT_HANDLER_HPP_
#define DSM_RUNTIME_COHERENCE_FAULT_HANDLER_HPP_

#include <cstdint>

namespace dsm::rt {

class protocol;

// install_fault_handler also starts the fault service thread; remove_fault_handler stops it. Misses
// go to `proto`, which must outlive the handler.
void install_fault_handler(protocol& proto);
void remove_fault_handler();

// Faults the fault service has served since the process started (for tests).
std::uint64_t faults_handed_off() noexcept;

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_COHERENCE_FAULT_HANDLER_HPP_
