// misuse_probe: one misuse of the API per run, for misuse.sh; every case must end the job with a
// clear error naming what was done wrong (never a hang, never silent corruption).
//
//   mpirun -np 2 misuse_probe <case>
//
// barrier_vs_alloc: rank 0 calls dsm::barrier() while rank 1 calls dsm::alloc(64 bytes).
// alloc_sizes_differ: dsm::alloc of 64 bytes on rank 0, of 128 on rank 1.
// free_foreign_on_one_rank: rank 1 frees a pointer dsm::alloc did not return, rank 0 the real one.
// barrier_vs_finalize: rank 1 finalizes while rank 0 waits in a barrier.
// finalize_holding_lock: rank 1 finalizes while it holds lock 5.
// c_release_not_held: rank 1 calls dsm_lock_release(9) through the C API without holding lock 9.
// signal_inside_barrier: a signal handler of rank 0 writes shared memory while rank 0's main thread
//   waits in dsm::barrier() (another thread sends the signal; rank 1 arrives 2 s later).
// finalize_while_waiting_at_manager: rank 1 waits on condition variable 0 (managed by rank 0) and
//   nobody notifies; rank 0 finalizes.
// finalize_while_waiting_here: the same on condition variable 1, which rank 1 manages itself.
// c_cond_wait_not_held: rank 1 calls dsm_cond_wait(3, 9) without holding lock 9.
// destroy_holding_lock: rank 1 destroys an object while it holds a write handle on it.
// A run that gets to the end prints "misuse_probe: not detected".
#include <pthread.h>
#include <signal.h>

#include <chrono>
#include <cstdio>
#include <cstring>
#include <mutex>
#include <string>
#include <thread>

#include "dsm/dsm.h"
#include "dsm/dsm.hpp"

namespace {
long* g_target = nullptr;  // shared memory the signal handler writes
void write_shared(int) { g_target[0] = 42; }
}  // namespace

int main(int argc, char** argv) {
  dsm::init(&argc, &argv);
  const std::string what = argc > 1 ? argv[1] : "";
  const int me = dsm::rank();
  if (what == "barrier_vs_alloc") {
    if (me == 0) dsm::barrier();
    else dsm::free(dsm::alloc<char>(64));
  } else if (what == "alloc_sizes_differ") {
    dsm::free(dsm::alloc<char>(me == 0 ? 64 : 128));
  } else if (what == "free_foreign_on_one_rank") {
    long local = 0;
    long* p = dsm::alloc<long>(1);
    dsm::free(me == 1 ? &local : p);
  } else if (what == "barrier_vs_finalize") {
    if (me == 0) dsm::barrier();
  } else if (what == "finalize_holding_lock") {
    if (me == 1) dsm::mutex(5).acquire();
  } else if (what == "c_release_not_held") {
    if (me == 1) dsm_lock_release(9);
    dsm::barrier();
  } else if (what == "signal_inside_barrier") {
    g_target = dsm::alloc<long>(1);  // never touched here: the handler's write faults
    struct sigaction sa {};
    sa.sa_handler = write_shared;
    sigaction(SIGUSR1, &sa, nullptr);
    if (me == 0) {
      const pthread_t main_thread = pthread_self();
      std::thread poke([main_thread] {
        std::this_thread::sleep_for(std::chrono::milliseconds(300));
        pthread_kill(main_thread, SIGUSR1);
      });
      dsm::barrier();
      poke.join();
    } else {
      std::this_thread::sleep_for(std::chrono::seconds(2));
      dsm::barrier();
    }
  } else if (what == "finalize_while_waiting_at_manager" || what == "finalize_while_waiting_here") {
    if (me == 1) {
      dsm::mutex m{4};
      dsm::condition_variable cv{what == "finalize_while_waiting_here" ? 1u : 0u};
      std::unique_lock lock(m);
      cv.wait(lock);
    }
  } else if (what == "destroy_holding_lock") {
    auto o = dsm::make_object<long>(7L);
    if (me == 1) {
      auto w = o.write();
      dsm::destroy(o);
    } else {
      dsm::destroy(o);
    }
  } else if (what == "c_cond_wait_not_held") {
    if (me == 1) dsm_cond_wait(3, 9);
    dsm::barrier();
  } else {
    std::fprintf(stderr, "misuse_probe: unknown case '%s'\n", what.c_str());
    return 2;
  }
  dsm::finalize();
  std::printf("misuse_probe: not detected (rank %d)\n", me);
  return 0;
}
