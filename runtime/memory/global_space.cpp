// global_space.cpp: see global_space.hpp.
#include "memory/global_space.hpp"

#include <fcntl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>

#include "base/log.hpp"
#include "base/options.hpp"
#include "dsm/dsm.hpp"

namespace dsm::rt {
namespace {
#if defined(__SANITIZE_THREAD__)
#define DSM_TSAN_BUILD 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define DSM_TSAN_BUILD 1
#endif
#endif
// Candidate addresses for the application view: high in the 47-bit user space, far from the heap,
// the stacks and the libraries' usual places. From 32 TiB the space is also clear of
// AddressSanitizer's shadow memory (x86-64: 0x7fff8000 .. 0x10007fff8000, below 16 TiB).
// ThreadSanitizer (x86-64, GCC 12 / LLVM 14 layout) instead keeps 0x0100'0000'0000 .. 0x5500'0000'0000
// and 0x5680'0000'0000 .. 0x7b00'0000'0000 for itself and kills a process that maps there; its one
// large application range is 0x7e80'0000'0000 .. 0x8000'0000'0000, where the libraries and stacks
// sit at the top: in a TSan build the candidates start at the bottom of that range.
#if defined(DSM_TSAN_BUILD)
constexpr std::uintptr_t kFirstCandidate = std::uintptr_t{0x7e80} << 32;  // 126.5 TiB
constexpr std::uintptr_t kStep = std::uintptr_t{0x10} << 32;              // 64 GiB apart
#else
constexpr std::uintptr_t kFirstCandidate = std::uintptr_t{0x2000} << 32;  // 32 TiB
constexpr std::uintptr_t kStep = std::uintptr_t{0x400} << 32;            // 4 TiB apart
#endif
constexpr int kCandidates = 24;
}  // namespace

global_space::global_space(const agreement& all_ok, std::uint64_t size, std::uint64_t unit, std::string name)
    : size_(size), unit_(unit) {
  if (name.empty()) name = "DSM_SIZE=" + std::to_string(size);
  // Local set-up first; every rank then learns whether all succeeded, so none is left waiting.
  std::string failure;
  fd_ = memfd_create("dsm-global-space", MFD_CLOEXEC);
  if (fd_ < 0) {
    failure = std::string("memfd_create failed: ") + std::strerror(errno);
  } else if (ftruncate(fd_, static_cast<off_t>(size)) != 0) {
    failure = name + " could not be reserved (" + std::strerror(errno) + "); valid: a smaller size";
  } else {
    void* shadow = mmap(nullptr, size, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_NORESERVE, fd_, 0);
    if (shadow == MAP_FAILED) {
      failure = name + " could not be mapped (" + std::strerror(errno) +
                "; the space takes twice DSM_SIZE of virtual memory, see ulimit -v); valid: a smaller size";
    } else {
      shadow_ = static_cast<std::byte*>(shadow);
    }
  }
  if (!all_ok(failure.empty())) {
    if (failure.empty()) throw peer_error("the global space could not be set up on another rank");
    throw dsm::error(failure);
  }

  // Agree on an address: every rank tries the same candidate; all must succeed.
  const std::uintptr_t span = ((size + kStep - 1) / kStep + 1) * kStep;
  for (int i = 0; i < kCandidates && app_ == nullptr; ++i) {
    void* want = reinterpret_cast<void*>(kFirstCandidate + static_cast<std::uintptr_t>(i) * span);
    void* got = mmap(want, size, PROT_NONE, MAP_SHARED | MAP_NORESERVE | MAP_FIXED_NOREPLACE, fd_, 0);
    const bool ok = got == want;
    if (got != MAP_FAILED && got != want) munmap(got, size);
    if (all_ok(ok)) {
      app_ = static_cast<std::byte*>(got);
    } else if (ok) {
      munmap(got, size);
    }
  }
  if (app_ == nullptr) {
    throw dsm::error(name +
                     ": no address range of that size is free on every rank (the space takes twice DSM_SIZE of "
                     "virtual memory, and at most 128 TiB exist); valid: a smaller size, at most about 32T");
  }
}

global_space::~global_space() {
  if (app_ != nullptr) munmap(app_, size_);
  if (shadow_ != nullptr) munmap(shadow_, size_);
  if (fd_ >= 0) close(fd_);
}

void global_space::zero(std::uint64_t offset, std::uint64_t bytes) {
  if (bytes == 0) return;
  if (fallocate(fd_, FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE, static_cast<off_t>(offset), static_cast<off_t>(bytes)) != 0) {
    // Fall back to writing zeros through the runtime view.
    std::memset(shadow_ + offset, 0, bytes);
  }
}

void global_space::prefault(const void* p, std::uint64_t bytes) {
#if defined(MADV_POPULATE_WRITE)
  if (bytes == 0) return;
  const auto page = static_cast<std::uintptr_t>(sysconf(_SC_PAGESIZE));
  const auto first = reinterpret_cast<std::uintptr_t>(p) & ~(page - 1);
  const auto end = reinterpret_cast<std::uintptr_t>(p) + bytes;
  (void)madvise(reinterpret_cast<void*>(first), end - first, MADV_POPULATE_WRITE);
#else
  (void)p;
  (void)bytes;
#endif
}

}  // namespace dsm::rt
