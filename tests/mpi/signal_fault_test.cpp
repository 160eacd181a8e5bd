// signal_fault_test.cpp: a program's signal handler reads shared memory while its thread is in the
// C library's allocator, outside dsm. Rank 1 writes a block; rank 0's main thread then only mallocs
// and frees while a timer signal, sent to that thread every millisecond, runs a handler that reads
// the block a page at a time and checks every word. The handler's faults must be served by the
// fault service (runtime/coherence/fault_handler.cpp): served on the interrupted thread, the miss
// would allocate and could wait forever for the arena lock that thread holds. A hang fails the
// test by its timeout.
#include <gtest/gtest.h>

#include <signal.h>
#include <time.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <cstdlib>

#include "dsm/dsm.hpp"
#include "coherence/fault_handler.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

constexpr std::size_t kUnits = 32;
constexpr std::size_t kWordsPerSignal = 512;  // a page of longs

long pattern(std::size_t i) { return static_cast<long>(i * 2654435761u % 1000003) + 7; }

const long* g_block = nullptr;
std::size_t g_words = 0;
std::atomic<std::size_t> g_cursor{0};  // words the handler has read so far
std::atomic<std::size_t> g_wrong{0};

void read_block(int) {
  const std::size_t from = g_cursor.load(std::memory_order_relaxed);
  if (from >= g_words) return;
  const std::size_t to = from + kWordsPerSignal < g_words ? from + kWordsPerSignal : g_words;
  std::size_t wrong = 0;
  for (std::size_t i = from; i < to; ++i) wrong += g_block[i] != pattern(i);
  g_wrong.fetch_add(wrong, std::memory_order_relaxed);
  g_cursor.store(to, std::memory_order_relaxed);
}

TEST_F(collective, a_signal_handler_reads_shared_memory_while_its_thread_is_in_malloc) {
  ASSERT_EQ(dsm::ranks(), 2) << "written for 2 ranks";
  g_words = kUnits * dsm::unit_size() / sizeof(long);
  long* block = dsm::alloc<long>(g_words);
  g_block = block;
  if (dsm::rank() == 1) {
    for (std::size_t i = 0; i < g_words; ++i) block[i] = pattern(i);
  }
  dsm::barrier();
  bool finished = true;
  std::uint64_t handed_off = 0;
  if (dsm::rank() == 0) {
    const std::uint64_t handed_off_before = dsm::rt::faults_handed_off();
    struct sigaction sa {}, old {};
    sa.sa_handler = read_block;
    sa.sa_flags = SA_RESTART;
    sigemptyset(&sa.sa_mask);
    ASSERT_EQ(sigaction(SIGALRM, &sa, &old), 0);
    // To this thread only (SIGEV_THREAD_ID), not to whichever thread of the process is free.
    sigevent ev {};
    ev.sigev_notify = SIGEV_THREAD_ID;
    ev.sigev_signo = SIGALRM;
    ev._sigev_un._tid = gettid();  // sigev_notify_thread_id, which glibc 2.36 does not name yet
    timer_t timer;
    ASSERT_EQ(timer_create(CLOCK_MONOTONIC, &ev, &timer), 0);
    const itimerspec every_ms{{0, 1000000}, {0, 1000000}};
    ASSERT_EQ(timer_settime(timer, 0, &every_ms, nullptr), 0);
    // Nothing but the allocator until the handler has read the whole block: a ring of live blocks
    // of varied sizes (some above malloc's mmap threshold), each replaced in turn.
    void* live[64] = {};
    std::size_t size = 24;
    const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(30);
    for (std::size_t n = 0; g_cursor.load(std::memory_order_relaxed) < g_words; ++n) {
      if (n % 4096 == 0 && std::chrono::steady_clock::now() > give_up) {
        finished = false;
        break;
      }
      std::free(live[n % 64]);
      size = size * 7 % 200003 + 16;
      auto* p = static_cast<volatile char*>(std::malloc(size));
      p[0] = 1;
      live[n % 64] = const_cast<char*>(p);
    }
    timer_delete(timer);
    sigaction(SIGALRM, &old, nullptr);
    for (void* p : live) std::free(p);
    handed_off = dsm::rt::faults_handed_off() - handed_off_before;
  }
  const std::size_t wrong = g_wrong.load();
  DSM_EXPECT_ALL(finished) << "the handler read " << g_cursor.load() << " of " << g_words << " words in 30 s";
  DSM_EXPECT_ALL(wrong == 0) << wrong << " words the handler read were wrong";
  // Rank 0 never touched the block: the handler's first read of each unit is a miss (whether the
  // unit's home is rank 0 depends on the model, so the count is not exact), and every such fault
  // is taken inside the handler.
  DSM_EXPECT_ALL(dsm::rank() != 0 || handed_off > 0) << "no fault was handed to the fault service";
  dsm::barrier();
  dsm::free(block);
}

}  // namespace
