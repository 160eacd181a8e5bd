// bounce.cpp: see bounce.hpp.
#include "interpose/bounce.hpp"

#include <dlfcn.h>
#include <sys/mman.h>

#include "engine/context.hpp"

namespace dsm::rt {

bool in_global_space(const void* p, std::size_t bytes) noexcept {
  const context* c = g_ctx;
  if (c == nullptr || c->space == nullptr || bytes == 0 || p == nullptr) return false;
  const auto a = reinterpret_cast<std::uintptr_t>(p);
  const auto base = reinterpret_cast<std::uintptr_t>(c->space->app_base());
  return a < base + c->space->size() && a + bytes > base;
}

std::string calls_not_wrapped() {
  Dl_info ours{}, theirs{};
  if (dladdr(reinterpret_cast<void*>(&in_global_space), &ours) == 0) return "";
  std::string missing;
  for (const char* name : {"MPI_Send", "MPI_Irecv"}) {  // (a sanitizer puts its own read and write first, and calls ours)
    void* f = dlsym(RTLD_DEFAULT, name);
    if (f != nullptr && dladdr(f, &theirs) != 0 && theirs.dli_fbase != ours.dli_fbase) {
      missing += (missing.empty() ? "" : ", ") + std::string(name);
    }
  }
  return missing;
}

bounce::bounce(std::size_t bytes) noexcept : p_(inline_), bytes_(bytes) {
  if (bytes <= kInline) return;
  void* m = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  p_ = m == MAP_FAILED ? nullptr : static_cast<std::byte*>(m);
  mapped_ = p_ != nullptr;
}

bounce::~bounce() {
  if (mapped_) munmap(p_, bytes_);
}

}  // namespace dsm::rt
