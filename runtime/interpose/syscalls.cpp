// syscalls.cpp: libc's I/O calls on shared memory (bounce.hpp says how and why).
//
// libdsm defines read, write, pread, pwrite (and their 64-bit names), readv, writev, send, sendto,
// recv, recvfrom, fread and fwrite. A program linked with libdsm calls these instead of libc's, and
// so do the libraries it loads (libstdc++'s file streams call read, write and writev; MPI's
// transports their socket calls). Each finds libc's function with dlsym(RTLD_NEXT) and calls it
// directly unless a buffer lies in the global space, in which case the call runs once on a private
// copy, with the same arguments and the same result. Calls inside libc itself do not pass through
// here: stdio's large transfers do, because fread and fwrite are wrapped as a whole; printf and
// the like read their arguments with ordinary loads, which fault as usual.
#include <dlfcn.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>

#include "interpose/bounce.hpp"

namespace {

using dsm::rt::bounce;
using dsm::rt::in_global_space;

// libc's own function `name`, found once.
template <class Fn>
Fn next(const char* name) {
  return reinterpret_cast<Fn>(dlsym(RTLD_NEXT, name));
}
#define DSM_REAL(fn) static const auto real = next<decltype(&::fn)>(#fn)

// The whole length of an iovec array.
std::size_t total_of(const iovec* iov, int count) {
  std::size_t n = 0;
  for (int i = 0; i < count; ++i) n += iov[i].iov_len;
  return n;
}

bool any_shared(const iovec* iov, int count) {
  for (int i = 0; i < count; ++i) {
    if (in_global_space(iov[i].iov_base, iov[i].iov_len)) return true;
  }
  return false;
}

// Runs `call(private_copy)` for a call that reads `bytes` from p (write, send).
template <class Call>
ssize_t reading(const void* p, std::size_t bytes, Call&& call) {
  bounce b(bytes);
  if (b.data() == nullptr) return errno = ENOMEM, -1;
  std::memcpy(b.data(), p, bytes);
  return call(b.data());
}

// Runs `call(private_copy)` for a call that writes up to `bytes` at p (read, recv), then stores
// what it wrote.
template <class Call>
ssize_t writing(void* p, std::size_t bytes, Call&& call) {
  bounce b(bytes);
  if (b.data() == nullptr) return errno = ENOMEM, -1;
  const ssize_t r = call(b.data());
  if (r > 0) {
    const int saved = errno;
    std::memcpy(p, b.data(), static_cast<std::size_t>(r));
    errno = saved;
  }
  return r;
}

}  // namespace

extern "C" {

ssize_t write(int fd, const void* buf, size_t count) {
  DSM_REAL(write);
  if (!in_global_space(buf, count)) return real(fd, buf, count);
  return reading(buf, count, [&](const std::byte* b) { return real(fd, b, count); });
}

ssize_t read(int fd, void* buf, size_t count) {
  DSM_REAL(read);
  if (!in_global_space(buf, count)) return real(fd, buf, count);
  return writing(buf, count, [&](std::byte* b) { return real(fd, b, count); });
}

ssize_t pwrite(int fd, const void* buf, size_t count, off_t offset) {
  DSM_REAL(pwrite);
  if (!in_global_space(buf, count)) return real(fd, buf, count, offset);
  return reading(buf, count, [&](const std::byte* b) { return real(fd, b, count, offset); });
}

ssize_t pread(int fd, void* buf, size_t count, off_t offset) {
  DSM_REAL(pread);
  if (!in_global_space(buf, count)) return real(fd, buf, count, offset);
  return writing(buf, count, [&](std::byte* b) { return real(fd, b, count, offset); });
}

ssize_t pwrite64(int fd, const void* buf, size_t count, off64_t offset) {
  DSM_REAL(pwrite64);
  if (!in_global_space(buf, count)) return real(fd, buf, count, offset);
  return reading(buf, count, [&](const std::byte* b) { return real(fd, b, count, offset); });
}

ssize_t pread64(int fd, void* buf, size_t count, off64_t offset) {
  DSM_REAL(pread64);
  if (!in_global_space(buf, count)) return real(fd, buf, count, offset);
  return writing(buf, count, [&](std::byte* b) { return real(fd, b, count, offset); });
}

// A vector with a shared piece becomes one contiguous transfer of the same bytes, in one call.
ssize_t writev(int fd, const iovec* iov, int iovcnt) {
  DSM_REAL(writev);
  if (iovcnt <= 0 || !any_shared(iov, iovcnt)) return real(fd, iov, iovcnt);
  static const auto real_write = next<decltype(&::write)>("write");
  const std::size_t total = total_of(iov, iovcnt);
  bounce b(total);
  if (b.data() == nullptr) return errno = ENOMEM, -1;
  std::size_t at = 0;
  for (int i = 0; i < iovcnt; ++i) {
    if (iov[i].iov_len != 0) std::memcpy(b.data() + at, iov[i].iov_base, iov[i].iov_len);
    at += iov[i].iov_len;
  }
  return real_write(fd, b.data(), total);
}

ssize_t readv(int fd, const iovec* iov, int iovcnt) {
  DSM_REAL(readv);
  if (iovcnt <= 0 || !any_shared(iov, iovcnt)) return real(fd, iov, iovcnt);
  static const auto real_read = next<decltype(&::read)>("read");
  const std::size_t total = total_of(iov, iovcnt);
  bounce b(total);
  if (b.data() == nullptr) return errno = ENOMEM, -1;
  const ssize_t r = real_read(fd, b.data(), total);
  const int saved = errno;
  std::size_t at = 0;
  for (int i = 0; i < iovcnt && r > 0 && at < static_cast<std::size_t>(r); ++i) {
    const std::size_t piece = std::min(iov[i].iov_len, static_cast<std::size_t>(r) - at);
    if (piece != 0) std::memcpy(iov[i].iov_base, b.data() + at, piece);
    at += piece;
  }
  errno = saved;
  return r;
}

ssize_t send(int fd, const void* buf, size_t len, int flags) {
  DSM_REAL(send);
  if (!in_global_space(buf, len)) return real(fd, buf, len, flags);
  return reading(buf, len, [&](const std::byte* b) { return real(fd, b, len, flags); });
}

ssize_t sendto(int fd, const void* buf, size_t len, int flags, const sockaddr* to, socklen_t tolen) {
  DSM_REAL(sendto);
  if (!in_global_space(buf, len)) return real(fd, buf, len, flags, to, tolen);
  return reading(buf, len, [&](const std::byte* b) { return real(fd, b, len, flags, to, tolen); });
}

ssize_t recv(int fd, void* buf, size_t len, int flags) {
  DSM_REAL(recv);
  if (!in_global_space(buf, len)) return real(fd, buf, len, flags);
  return writing(buf, len, [&](std::byte* b) { return real(fd, b, len, flags); });
}

ssize_t recvfrom(int fd, void* buf, size_t len, int flags, sockaddr* from, socklen_t* fromlen) {
  DSM_REAL(recvfrom);
  if (!in_global_space(buf, len)) return real(fd, buf, len, flags, from, fromlen);
  return writing(buf, len, [&](std::byte* b) { return real(fd, b, len, flags, from, fromlen); });
}

size_t fwrite(const void* ptr, size_t size, size_t nmemb, FILE* stream) {
  DSM_REAL(fwrite);
  if (size == 0 || nmemb > SIZE_MAX / size || !in_global_space(ptr, size * nmemb)) return real(ptr, size, nmemb, stream);
  bounce b(size * nmemb);
  if (b.data() == nullptr) return errno = ENOMEM, 0;
  std::memcpy(b.data(), ptr, size * nmemb);
  return real(b.data(), size, nmemb, stream);
}

size_t fread(void* ptr, size_t size, size_t nmemb, FILE* stream) {
  DSM_REAL(fread);
  if (size == 0 || nmemb > SIZE_MAX / size || !in_global_space(ptr, size * nmemb)) return real(ptr, size, nmemb, stream);
  bounce b(size * nmemb);
  if (b.data() == nullptr) return errno = ENOMEM, 0;
  const size_t items = real(b.data(), size, nmemb, stream);
  if (items != 0) std::memcpy(ptr, b.data(), items * size);
  return items;
}

}  // extern "C"
