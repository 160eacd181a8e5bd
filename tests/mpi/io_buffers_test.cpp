// io_buffers_test.cpp: shared memory handed to the kernel and to the program's own MPI calls. Each
// rank fills a 64 KiB block of a shared array, then after a barrier hands blocks it has not touched
// since another rank wrote them to write(2), pwrite, writev, send, fwrite, std::ofstream and MPI
// (Send/Recv, Isend/Irecv with Waitall and Test, Sendrecv, Bcast, Allreduce, Reduce, Gather,
// Allgather, Scatter, Alltoall), and receives into shared blocks with read(2), pread, readv, recv,
// fread, std::ifstream and MPI. Every byte is checked, by the receiving rank and, after a barrier, by
// another. dsm::touch makes a block accessible to a raw system call that no wrapper sees. The data
// is written before a barrier and read after it, so the test holds under every model. It runs on
// one node (label mpi) and across two hosts (tests/netns).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <mpi.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

constexpr std::size_t kBlock = 64 * 1024;

// The byte rank r writes at offset i of its block in round `salt`.
unsigned char pattern(int r, std::size_t i, int salt) {
  return static_cast<unsigned char>((r * 131 + i * 7 + salt * 17 + (i >> 8)) & 0xff);
}

// Bytes of [p, p + kBlock) that differ from rank r's pattern.
long wrong_bytes(const unsigned char* p, int r, int salt) {
  long wrong = 0;
  for (std::size_t i = 0; i < kBlock; ++i) wrong += p[i] != pattern(r, i, salt);
  return wrong;
}

void fill(unsigned char* p, int r, int salt) {
  for (std::size_t i = 0; i < kBlock; ++i) p[i] = pattern(r, i, salt);
}

// A shared array of one block per rank (plus `extra` blocks per rank), each rank's filled by it.
struct blocks {
  unsigned char* base;
  int n;
  unsigned char* of(int r, int k = 0) const { return base + (static_cast<std::size_t>(k) * n + r) * kBlock; }
};

std::string temp_path(const char* what) {
  return std::string("/tmp/dsm-io-") + what + "-" + std::to_string(getpid());
}

TEST_F(collective, system_calls_read_and_write_shared_blocks) {
  const int r = dsm::rank(), n = dsm::ranks(), next = (r + 1) % n, prev = (r + n - 1) % n;
  blocks b{dsm::alloc<unsigned char>(3 * kBlock * static_cast<std::size_t>(n)), n};
  fill(b.of(r), r, 1);
  dsm::barrier();
  const std::string path = temp_path("sys");
  long wrong = 0;
  // write(2) of the next rank's block, read back privately.
  int fd = open(path.c_str(), O_RDWR | O_CREAT | O_TRUNC, 0600);
  ASSERT_GE(fd, 0);
  const ssize_t wrote = write(fd, b.of(next), kBlock);
  std::vector<unsigned char> check(kBlock);
  const ssize_t back = pread(fd, check.data(), kBlock, 0);
  wrong += wrote != static_cast<ssize_t>(kBlock) || back != static_cast<ssize_t>(kBlock) ? 1 : wrong_bytes(check.data(), next, 1);
  // read(2) and pread into shared blocks (this rank's slots 1 and 2), from the file.
  lseek(fd, 0, SEEK_SET);
  const ssize_t got = read(fd, b.of(r, 1), kBlock);
  const ssize_t pgot = pread(fd, b.of(r, 2), kBlock, 0);
  wrong += got != static_cast<ssize_t>(kBlock) || pgot != static_cast<ssize_t>(kBlock);
  wrong += wrong_bytes(b.of(r, 1), next, 1) + wrong_bytes(b.of(r, 2), next, 1);
  // pwrite of the previous rank's block, writev of two shared halves around a private header.
  wrong += pwrite(fd, b.of(prev), kBlock, 0) != static_cast<ssize_t>(kBlock);
  wrong += pread(fd, check.data(), kBlock, 0) != static_cast<ssize_t>(kBlock) ? 1 : wrong_bytes(check.data(), prev, 1);
  char header[8] = "header!";
  iovec out[3] = {{b.of(next), kBlock / 2}, {header, sizeof header}, {b.of(next) + kBlock / 2, kBlock / 2}};
  wrong += pwrite(fd, "", 0, 0) != 0;
  lseek(fd, 0, SEEK_SET);
  wrong += writev(fd, out, 3) != static_cast<ssize_t>(kBlock + sizeof header);
  // readv back into a shared block split around a private header.
  lseek(fd, 0, SEEK_SET);
  char header_back[8] = {};
  iovec in[3] = {{b.of(r, 1), kBlock / 2}, {header_back, sizeof header_back}, {b.of(r, 1) + kBlock / 2, kBlock / 2}};
  wrong += readv(fd, in, 3) != static_cast<ssize_t>(kBlock + sizeof header);
  wrong += wrong_bytes(b.of(r, 1), next, 1) + (std::string(header_back) != "header!");
  close(fd);
  // send and recv over a socket pair: the previous rank's block out, into this rank's slot 2.
  int pair[2];
  ASSERT_EQ(socketpair(AF_UNIX, SOCK_STREAM, 0, pair), 0);
  int room = 4 * static_cast<int>(kBlock);  // the whole block fits in the socket: send, then receive
  setsockopt(pair[0], SOL_SOCKET, SO_SNDBUF, &room, sizeof room);
  setsockopt(pair[1], SOL_SOCKET, SO_RCVBUF, &room, sizeof room);
  std::size_t sent = 0, received = 0;
  for (ssize_t s = 1; sent < kBlock && s > 0; sent += s > 0 ? static_cast<std::size_t>(s) : 0)
    s = send(pair[0], b.of(prev) + sent, kBlock - sent, MSG_DONTWAIT);
  close(pair[0]);  // the receiver sees the end of the stream instead of waiting
  for (ssize_t g = 1; received < kBlock && g > 0; received += g > 0 ? static_cast<std::size_t>(g) : 0)
    g = recv(pair[1], b.of(r, 2) + received, kBlock - received, 0);
  close(pair[1]);
  wrong += received != kBlock ? 1 : wrong_bytes(b.of(r, 2), prev, 1);
  // A raw system call no wrapper sees, after dsm::touch.
  fd = open(path.c_str(), O_RDWR | O_TRUNC);
  dsm::touch(b.of(next), kBlock, dsm::access::read);
  const long raw = syscall(SYS_write, fd, b.of(next), kBlock);
  wrong += raw != static_cast<long>(kBlock);
  wrong += pread(fd, check.data(), kBlock, 0) != static_cast<ssize_t>(kBlock) ? 1 : wrong_bytes(check.data(), next, 1);
  close(fd);
  unlink(path.c_str());
  DSM_EXPECT_ALL(wrong == 0) << wrong << " wrong results or bytes";
  // Another rank sees what the kernel wrote into this rank's slots.
  dsm::barrier();
  const long seen = wrong_bytes(b.of(next, 1), (next + 1) % n, 1) + wrong_bytes(b.of(next, 2), (next + n - 1) % n, 1);
  DSM_EXPECT_ALL(seen == 0) << seen << " bytes wrong in the next rank's slots, read after a barrier";
  dsm::barrier();
  dsm::free(b.base);
}

TEST_F(collective, stdio_and_streams_read_and_write_shared_blocks) {
  const int r = dsm::rank(), n = dsm::ranks(), next = (r + 1) % n;
  blocks b{dsm::alloc<unsigned char>(3 * kBlock * static_cast<std::size_t>(n)), n};
  fill(b.of(r), r, 2);
  dsm::barrier();
  const std::string path = temp_path("stdio");
  long wrong = 0;
  std::FILE* f = std::fopen(path.c_str(), "w+b");
  ASSERT_NE(f, nullptr);
  wrong += std::fwrite(b.of(next), 1, kBlock, f) != kBlock;
  std::fflush(f);
  std::rewind(f);
  wrong += std::fread(b.of(r, 1), 1, kBlock, f) != kBlock;
  std::fclose(f);
  wrong += wrong_bytes(b.of(r, 1), next, 2);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(b.of(next)), kBlock);  // larger than the stream's buffer
    wrong += !out.good();
  }
  {
    std::ifstream in(path, std::ios::binary);
    in.read(reinterpret_cast<char*>(b.of(r, 2)), kBlock);
    wrong += in.gcount() != static_cast<std::streamsize>(kBlock);
  }
  wrong += wrong_bytes(b.of(r, 2), next, 2);
  std::remove(path.c_str());
  DSM_EXPECT_ALL(wrong == 0) << wrong << " wrong results or bytes";
  dsm::barrier();
  const long seen = wrong_bytes(b.of(next, 1), (next + 1) % n, 2) + wrong_bytes(b.of(next, 2), (next + 1) % n, 2);
  DSM_EXPECT_ALL(seen == 0) << seen << " bytes wrong in the next rank's slots, read after a barrier";
  dsm::barrier();
  dsm::free(b.base);
}

TEST_F(collective, mpi_point_to_point_on_shared_buffers) {
  const int r = dsm::rank(), n = dsm::ranks(), next = (r + 1) % n, prev = (r + n - 1) % n;
  blocks b{dsm::alloc<unsigned char>(4 * kBlock * static_cast<std::size_t>(n)), n};
  fill(b.of(r), r, 3);
  dsm::barrier();
  long wrong = 0;
  // Each rank sends the next rank's block to the next rank: what arrives from the previous rank is
  // block (prev + 1), this rank's own.
  MPI_Request reqs[2];
  MPI_Irecv(b.of(r, 1), kBlock, MPI_BYTE, prev, 11, MPI_COMM_WORLD, &reqs[0]);
  MPI_Send(b.of(next), kBlock, MPI_BYTE, next, 11, MPI_COMM_WORLD);
  MPI_Wait(&reqs[0], MPI_STATUS_IGNORE);
  wrong += wrong_bytes(b.of(r, 1), r, 3);  // prev sent block (prev + 1) = this rank's
  // Nonblocking both ways, completed by Waitall and by a Test loop.
  MPI_Irecv(b.of(r, 2), kBlock, MPI_BYTE, prev, 12, MPI_COMM_WORLD, &reqs[0]);
  MPI_Isend(b.of(prev), kBlock, MPI_BYTE, next, 12, MPI_COMM_WORLD, &reqs[1]);
  MPI_Waitall(2, reqs, MPI_STATUSES_IGNORE);
  wrong += wrong_bytes(b.of(r, 2), (prev + n - 1) % n, 3);
  MPI_Irecv(b.of(r, 3), kBlock, MPI_BYTE, next, 13, MPI_COMM_WORLD, &reqs[0]);
  MPI_Isend(b.of(next), kBlock, MPI_BYTE, prev, 13, MPI_COMM_WORLD, &reqs[1]);
  for (int done = 0; !done;) MPI_Testall(2, reqs, &done, MPI_STATUSES_IGNORE);
  wrong += wrong_bytes(b.of(r, 3), (next + 1) % n, 3);
  // Blocking receive into shared memory, and Sendrecv with shared buffers on both sides.
  MPI_Sendrecv(b.of(r), kBlock, MPI_BYTE, next, 14, b.of(r, 1), kBlock, MPI_BYTE, prev, 14, MPI_COMM_WORLD,
               MPI_STATUS_IGNORE);
  wrong += wrong_bytes(b.of(r, 1), prev, 3);
  std::vector<unsigned char> mine(b.of(r), b.of(r) + kBlock);
  if (n > 1) {
    if (r == 0) MPI_Send(mine.data(), kBlock, MPI_BYTE, 1, 15, MPI_COMM_WORLD);
    if (r == 1) MPI_Recv(b.of(r, 2), kBlock, MPI_BYTE, 0, 15, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    if (r == 1) wrong += wrong_bytes(b.of(r, 2), 0, 3);
  }
  DSM_EXPECT_ALL(wrong == 0) << wrong << " bytes wrong";
  dsm::barrier();
  const long seen = wrong_bytes(b.of(next, 1), r, 3);  // what the next rank received by Sendrecv: this rank's block
  DSM_EXPECT_ALL(seen == 0) << seen << " bytes wrong in a block MPI wrote on another rank, read after a barrier";
  dsm::barrier();
  dsm::free(b.base);
}

TEST_F(collective, mpi_collectives_on_shared_buffers) {
  const int r = dsm::rank(), n = dsm::ranks();
  constexpr int kLongs = 4096;
  long* in = dsm::alloc<long>(static_cast<std::size_t>(kLongs) * n);    // rank k's slice: k * kLongs ...
  long* out = dsm::alloc<long>(static_cast<std::size_t>(kLongs) * n * 2);
  long* mine = in + static_cast<std::size_t>(r) * kLongs;
  for (int i = 0; i < kLongs; ++i) mine[i] = r * 100000L + i;
  dsm::barrier();
  long wrong = 0;
  // Bcast rank 0's slice into out, from the shared slice itself.
  if (r == 0) std::copy(mine, mine + kLongs, out);
  MPI_Bcast(out, kLongs, MPI_LONG, 0, MPI_COMM_WORLD);
  for (int i = 0; i < kLongs; ++i) wrong += out[i] != i;
  MPI_Barrier(MPI_COMM_WORLD);
  // Allreduce of every rank's slice into this rank's part of out.
  long* sum = out + static_cast<std::size_t>(kLongs) * (n + r);
  MPI_Allreduce(mine, sum, kLongs, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  const long ranks_sum = 100000L * n * (n - 1) / 2;
  for (int i = 0; i < kLongs; ++i) wrong += sum[i] != ranks_sum + static_cast<long>(n) * i;
  // Reduce from shared memory into a private buffer.
  std::vector<long> reduced(kLongs);
  MPI_Reduce(mine, reduced.data(), kLongs, MPI_LONG, MPI_MAX, 0, MPI_COMM_WORLD);
  if (r == 0)
    for (int i = 0; i < kLongs; ++i) wrong += reduced[i] != (n - 1) * 100000L + i;
  MPI_Barrier(MPI_COMM_WORLD);
  dsm::barrier();
  // Allgather every slice into out (shared), Gather to rank 0, Scatter back, Alltoall.
  MPI_Allgather(mine, kLongs, MPI_LONG, out, kLongs, MPI_LONG, MPI_COMM_WORLD);
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < kLongs; ++i) wrong += out[static_cast<std::size_t>(k) * kLongs + i] != k * 100000L + i;
  dsm::barrier();
  MPI_Gather(mine, kLongs, MPI_LONG, r == 0 ? out : nullptr, kLongs, MPI_LONG, 0, MPI_COMM_WORLD);
  if (r == 0)
    for (int k = 0; k < n; ++k)
      for (int i = 0; i < kLongs; ++i) wrong += out[static_cast<std::size_t>(k) * kLongs + i] != k * 100000L + i;
  dsm::barrier();
  long* back = out + static_cast<std::size_t>(kLongs) * (n + r);
  MPI_Scatter(r == 0 ? in : nullptr, kLongs, MPI_LONG, back, kLongs, MPI_LONG, 0, MPI_COMM_WORLD);
  for (int i = 0; i < kLongs; ++i) wrong += back[i] != r * 100000L + i;
  dsm::barrier();
  const int piece = kLongs / n;  // Alltoall: piece k of each rank's slice goes to rank k
  MPI_Alltoall(mine, piece, MPI_LONG, out + static_cast<std::size_t>(r) * kLongs, piece, MPI_LONG, MPI_COMM_WORLD);
  for (int k = 0; k < n; ++k)
    for (int i = 0; i < piece; ++i)
      wrong += out[static_cast<std::size_t>(r) * kLongs + k * piece + i] != k * 100000L + r * piece + i;
  DSM_EXPECT_ALL(wrong == 0) << wrong << " values wrong";
  dsm::barrier();
  dsm::free(out);
  dsm::free(in);
}

}  // namespace
