// check_probe: DSM_CHECK=1 under entry consistency. Binds 8 bytes to lock 9; then the last rank
// writes them, holding the lock exclusively ("locked"), shared ("shared") or not at all ("unlocked").
// Only the locked write is allowed: the others must end the job with a report naming the address
// and the lock. check_bound.sh judges the output.
#include <cstdio>
#include <cstring>
#include <mutex>

#include "dsm/dsm.hpp"

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const char* how = argc > 1 ? argv[1] : "locked";
  long* block = dsm::alloc<long>(4);
  long* bound = block + 1;
  dsm::mutex m{9};
  m.bind(bound, sizeof *bound);
  if (dsm::rank() == dsm::ranks() - 1) {
    std::printf("rank %d writes %p (%s)\n", dsm::rank(), static_cast<void*>(bound), how);
    std::fflush(stdout);
    block[0] = 1;  // unbound, next to it: always allowed
    if (std::strcmp(how, "locked") == 0) {
      std::lock_guard g(m);
      *bound = 42;
    } else if (std::strcmp(how, "shared") == 0) {
      m.lock_shared();
      *bound = 42;
      m.unlock_shared();
    } else {
      *bound = 42;
    }
    std::printf("the write returned\n");
    std::fflush(stdout);
  }
  dsm::barrier();
  dsm::free(block);
  return 0;
}
