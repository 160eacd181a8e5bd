// futex.hpp: waiting on a 32-bit word in memory that several processes map (shared, not
// process-private futexes): the shared-memory queues' doorbells and the node-local barrier.
#ifndef DSM_RUNTIME_BASE_FUTEX_HPP_
#define DSM_RUNTIME_BASE_FUTEX_HPP_

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <ctime>

#include "base/log.hpp"

namespace dsm::rt {

// Sleeps while *word == expected, until woken (or the timeout passes; null: no limit). May return
// early (a wake-up for another reason): callers re-check their condition.
inline void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected, const timespec* timeout = nullptr) {
  long r = syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT, expected, timeout, nullptr, 0);
  if (r != 0 && errno != EAGAIN && errno != EINTR && errno != ETIMEDOUT) fatal("futex wait failed: %s", std::strerror(errno));
}

// Wakes up to `count` threads sleeping on word.
inline void futex_wake(std::atomic<std::uint32_t>* word, int count) {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE, count, nullptr, nullptr, 0);
}

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_BASE_FUTEX_HPP_
