// bounce.hpp: shared memory handed to the kernel or to MPI goes through a private copy.
//
// The kernel does not take dsm's page faults: a system call that reads or writes a unit this rank
// may not access fails with EFAULT, and MPI's transports read and write buffers in the kernel too.
// So the wrappers of runtime/interpose (libc's I/O calls, the MPI calls) pass any buffer that lies
// in the global space through a private buffer: they copy the shared bytes into it with ordinary
// loads before a call that reads them, and copy the received bytes out with ordinary stores after a
// call that writes them. The loads and stores fault and are served like the program's own, so the
// bytes are the ones the model makes visible at that point. A buffer outside the global space, or
// any call before dsm::init and after dsm::finalize, goes straight to the real function.
//
// The private buffer is mapped anonymously (no heap allocation): a program's signal handler may
// call write(2). Not thread safe beyond what the program's own accesses to the buffer are: the
// thread that calls touches the shared memory, as the program's own loads would.
#ifndef DSM_RUNTIME_INTERPOSE_BOUNCE_HPP_
#define DSM_RUNTIME_INTERPOSE_BOUNCE_HPP_

#include <cstddef>
#include <cstdint>
#include <string>

namespace dsm::rt {

// True if [p, p + bytes) overlaps the global space of a running dsm.
bool in_global_space(const void* p, std::size_t bytes) noexcept;

// The program's MPI calls that resolve to another library's definition instead of libdsm's wrapper
// (libdsm was linked after libmpi), as "MPI_Send, MPI_Irecv", or "" if the wrappers are in place.
std::string calls_not_wrapped();

// A private copy of `bytes` bytes: on the stack's behalf for small sizes, mapped for large ones.
class bounce {
 public:
  explicit bounce(std::size_t bytes) noexcept;
  ~bounce();
  bounce(const bounce&) = delete;
  bounce& operator=(const bounce&) = delete;

  // Null if the memory could not be mapped (the caller reports ENOMEM).
  std::byte* data() noexcept { return p_; }
  std::size_t size() const noexcept { return bytes_; }

 private:
  static constexpr std::size_t kInline = 4096;
  alignas(64) std::byte inline_[kInline];
  std::byte* p_;
  std::size_t bytes_;
  bool mapped_ = false;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_INTERPOSE_BOUNCE_HPP_
