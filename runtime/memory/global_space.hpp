// global_space.hpp: the global space, reserved at the same virtual address on every rank.
//
// The space is backed by a memfd of DSM_SIZE bytes (sparse: nothing is committed until touched) and
// mapped twice: the application view at the agreed address, whose protection the coherence protocol
// changes unit by unit (PROT_NONE / PROT_READ / PROT_READ|PROT_WRITE), and a runtime view elsewhere,
// always read-write, through which the engine copies unit data in and out regardless of what the
// application may touch. reserve() is collective; the rest is thread safe.
#ifndef DSM_RUNTIME_MEMORY_GLOBAL_SPACE_HPP_
#define DSM_RUNTIME_MEMORY_GLOBAL_SPACE_HPP_

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace dsm::rt {

class global_space {
 public:
  // True iff `ok` is true on every rank (an MPI_Allreduce in a job; identity in a unit test).
  using agreement = std::function<bool(bool ok)>;
  // Collective: creates the backing memory and maps the application view at an address every rank
  // could map. Throws dsm::error if no common address is found; `name` says where the size came
  // from in such messages (by default "DSM_SIZE=<size>").
  global_space(const agreement& all, std::uint64_t size, std::uint64_t unit, std::string name = {});
  ~global_space();
  global_space(const global_space&) = delete;
  global_space& operator=(const global_space&) = delete;

  std::byte* app_base() const { return app_; }
  int fd() const { return fd_; }  // the backing memfd (node-mates map it: coherence/node_homes)
  std::byte* runtime_base() const { return shadow_; }
  std::uint64_t size() const { return size_; }
  std::uint64_t unit() const { return unit_; }
  std::uint64_t units() const { return size_ / unit_; }

  bool contains(const void* p) const {
    auto a = reinterpret_cast<std::uintptr_t>(p), b = reinterpret_cast<std::uintptr_t>(app_);
    return a >= b && a - b < size_;
  }
  std::uint64_t unit_of(const void* p) const {
    return (reinterpret_cast<std::uintptr_t>(p) - reinterpret_cast<std::uintptr_t>(app_)) / unit_;
  }
  std::byte* app_unit(std::uint64_t u) const { return app_ + u * unit_; }
  std::byte* runtime_unit(std::uint64_t u) const { return shadow_ + u * unit_; }

  // Gives the memory of [offset, offset+bytes) back to the OS; it reads as zero afterwards.
  void zero(std::uint64_t offset, std::uint64_t bytes);

  // Allocates and maps the missing pages of [p, p+bytes) in one system call (MADV_POPULATE_WRITE),
  // for bytes about to be written for the first time: a fault that allocates a page costs 10-20 us
  // in a virtual machine, the call about 3 us a page (and about 1 us where the pages are there
  // already). Best effort: before Linux 5.14, or without write access, the writes fault as before.
  static void prefault(const void* p, std::uint64_t bytes);

 private:
  int fd_ = -1;
  std::uint64_t size_;
  std::uint64_t unit_;
  std::byte* app_ = nullptr;
  std::byte* shadow_ = nullptr;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_MEMORY_GLOBAL_SPACE_HPP_
