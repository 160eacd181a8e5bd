// fault_probe.cpp: a program bug outside the global space, driven by fault_outside.sh. After
// dsm::init and a barrier, the highest rank stores through a pointer dsm knows nothing about (mode
// "null": address 16; mode "unmapped": a page the program mapped and unmapped itself), while the
// other ranks wait in dsm::barrier(). The runtime's fault handler must not swallow the fault: the
// process dies of SIGSEGV and mpirun ends the job instead of leaving the others waiting.
#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <cstring>

#include "dsm/dsm.hpp"

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const bool unmapped = argc > 1 && std::strcmp(argv[1], "unmapped") == 0;
  long* shared = dsm::alloc<long>(1);
  dsm::barrier();
  if (dsm::rank() == dsm::ranks() - 1) {
    volatile std::uintptr_t address = 16;
    if (unmapped) {
      void* page = mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
      if (page == MAP_FAILED) return 3;
      munmap(page, 4096);
      address = reinterpret_cast<std::uintptr_t>(page);
    }
    std::fprintf(stderr, "fault_probe: rank %d stores to %#lx\n", dsm::rank(),
                 static_cast<unsigned long>(address));
    std::fflush(stderr);
    *reinterpret_cast<volatile long*>(address) = 1;
    std::fprintf(stderr, "fault_probe: the store to a bad address returned\n");
    return 4;
  }
  dsm::barrier();  // never completes: the last rank dies first
  *shared = 1;
  dsm::free(shared);
  return 5;
}
