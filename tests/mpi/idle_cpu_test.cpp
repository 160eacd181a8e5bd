// idle_cpu_test.cpp: a rank that waits uses no CPU. Rank 0 sleeps 3 s before it arrives at a
// barrier, and later holds a lock for 3 s; every other rank waits for it, in the barrier and then in
// lock(), and measures the CPU time its whole process used meanwhile (getrusage(RUSAGE_SELF): the
// application and engine threads together, the engine polling MPI with DSM_TRANSPORT=mpi). It must stay under 2% of a core, so the
// runtime may spin for a short time after traffic but never for the length of a wait. Run on one
// node (under every model, with the shared-memory queues and with DSM_TRANSPORT=mpi) and across two
// hosts (tests/netns/netns_test.sh).
#include <gtest/gtest.h>
#include <sys/resource.h>

#include <chrono>
#include <thread>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

constexpr auto kWait = std::chrono::seconds(3);
constexpr double kMaxShare = 0.02;  // of one core

double cpu_seconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

// Times `wait` on every rank but 0 and checks the CPU share it cost there. Collective.
template <class Wait>
void check_idle(const char* what, Wait&& wait) {
  const auto start = std::chrono::steady_clock::now();
  const double cpu0 = cpu_seconds();
  wait();
  const double cpu = cpu_seconds() - cpu0;
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double share = cpu / wall;
  if (dsm::rank() != 0) {
    std::printf("rank %d: waited %.2f s in %s, used %.1f ms of CPU (%.2f%% of a core)\n", dsm::rank(), wall, what,
                cpu * 1e3, share * 100);
  }
  DSM_EXPECT_ALL(dsm::rank() == 0 || wall >= 2.5) << what << ": waited only " << wall << " s";
  DSM_EXPECT_ALL(dsm::rank() == 0 || share < kMaxShare)
      << what << ": " << share * 100 << "% of a core over " << wall << " s";
}

TEST_F(collective, barrier_wait_is_idle) {
  dsm::barrier();  // everyone has started: what follows is the wait alone
  check_idle("a barrier", [] {
    if (dsm::rank() == 0) std::this_thread::sleep_for(kWait);
    dsm::barrier();
  });
}

TEST_F(collective, lock_wait_is_idle) {
  dsm::mutex m{11};
  // Every rank takes the lock once first, so the wait below is the only thing measured.
  m.lock();
  m.unlock();
  dsm::barrier();
  if (dsm::rank() == 0) m.lock();
  dsm::barrier();  // rank 0 holds the lock
  check_idle("lock()", [&] {
    if (dsm::rank() == 0) {
      std::this_thread::sleep_for(kWait);
      m.unlock();
    } else {
      m.lock();
      m.unlock();
    }
  });
  dsm::barrier();
}

}  // namespace
