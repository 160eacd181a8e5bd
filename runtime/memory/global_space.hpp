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
#include <span>

namespace dsm::rt {

class global_space {
 public:
  // True iff `ok` is true on every rank (an MPI_Allreduce in a job; identity in a unit test).
  using agreement = std::function<bool(bool ok)>;
  // Collective: creates the backing memory and maps the application view at an address every rank
  // could map. Throws dsm::error if no common address is found.
  global_space(const agreement& all, std::uint64_t size, std::uint64_t unit);
  ~global_space();
  global_space(const global_space&) = delete;
  global_space& operator=(const global_space&) = delete;

  std::byte* app_base() const { return app_; }
  int fd() const { return fd_; }  // the backing memfd (node-mates map it: topology/node_homes)
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

  // Fills in the page tables of [p, p+bytes) in one system call (MADV_POPULATE_READ, or _WRITE,
  // which also allocates missing pages), where touching the bytes would take one page fault per
  // page: a page fault costs 10-20 us in a virtual machine, the call about 1 us a page. For the
  // units data is about to be copied into or out of, and the units the application is about to read.
  // Best effort: a kernel before Linux 5.14, or a range without the access, just faults as before.
  static void prefault(const void* p, std::uint64_t bytes, bool write);
  // prefault() of the units `units` (sorted) of one view, one call per run of consecutive units.
  enum class view { app, runtime };
  void prefault_units(std::span<const std::uint64_t> units, view v, bool write) const;

 private:
  int fd_ = -1;
  std::uint64_t size_;
  std::uint64_t unit_;
  std::byte* app_ = nullptr;
  std::byte* shadow_ = nullptr;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_MEMORY_GLOBAL_SPACE_HPP_
