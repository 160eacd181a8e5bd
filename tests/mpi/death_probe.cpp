// death_probe: one rank dies while the others are blocked in a dsm operation; driven by death.sh.
//
//   mpirun -np 4 death_probe <way> <where> <dir>
//
// way: abort (std::abort), exception (an uncaught std::runtime_error), exit (std::exit(3) without
// dsm::finalize), kill (the rank writes its pid to <dir>/pid and waits; the script kills it with
// SIGKILL). where: lock (rank 2 holds lock 7, the others block acquiring it), barrier (the others
// block in dsm::barrier, rank 2 never arrives), miss (the others read a unit whose home rank 2 is
// and that it wrote, 100 ms after rank 2 died: the request is never answered; if a loaded rank 2
// was still alive and answered, they block in the barrier that follows). Rank 2 dies 300 ms
// after the barrier that precedes the blocking operation, and writes the wall time of its death (ns since the epoch) to
// <dir>/died just before. A run that gets past the blocking operation prints "survived", which
// death.sh counts as a failure.
#include <signal.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <stdexcept>
#include <string>
#include <thread>

#include "dsm/dsm.hpp"

namespace {

void write_file(const std::string& path, const std::string& text) {
  if (std::FILE* f = std::fopen(path.c_str(), "w")) {
    std::fputs(text.c_str(), f);
    std::fclose(f);
  }
}

long long now_ns() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

[[noreturn]] void die(const std::string& way, const std::string& dir) {
  std::this_thread::sleep_for(std::chrono::milliseconds(300));
  if (way == "kill") {
    write_file(dir + "/pid", std::to_string(getpid()) + "\n");
    for (;;) pause();  // the script kills this process with SIGKILL and writes the time itself
  }
  write_file(dir + "/died", std::to_string(now_ns()) + "\n");
  std::fprintf(stderr, "death_probe: rank 2 dies now (%s)\n", way.c_str());
  std::fflush(stderr);
  if (way == "abort") std::abort();
  if (way == "exit") std::exit(3);
  throw std::runtime_error("death_probe: an exception nobody catches, thrown by rank 2");
}

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  if (argc != 4 || dsm::ranks() < 3) {
    std::fprintf(stderr, "usage: mpirun -np 4 death_probe abort|exception|exit|kill lock|barrier|miss <dir>\n");
    return 2;
  }
  const std::string way = argv[1], where = argv[2], dir = argv[3];
  const int me = dsm::rank();
  // The runtime's shared-memory names start with dsm-<pid of rank 0>-: death.sh checks none is left.
  if (me == 0) write_file(dir + "/pid0", std::to_string(getpid()) + "\n");
  const std::size_t unit = dsm::unit_size();
  // Three units; unit 2 of the block has rank 2 as its home (units are homed cyclically and the
  // block starts at unit 0 of a fresh space).
  auto* block = dsm::alloc<unsigned char>(3 * unit);
  unsigned char* at_rank2 = block + 2 * unit;
  dsm::mutex lock{7};  // its manager is rank 7 % 4 = 3; rank 2 takes it first

  if (where == "lock") {
    if (me == 2) lock.acquire();
    dsm::barrier();
    if (me == 2) die(way, dir);
    std::lock_guard<dsm::mutex> g(lock);  // blocks: rank 2 never releases
  } else if (where == "barrier") {
    dsm::barrier();
    if (me == 2) die(way, dir);
    dsm::barrier();  // blocks: rank 2 never arrives
  } else if (where == "miss") {
    if (me == 2) at_rank2[0] = 42;
    dsm::barrier();
    if (me == 2) die(way, dir);
    // Rank 2's engine would answer while rank 2 is alive, so the others read once it is dead (or,
    // for `kill`, once the script has had 100 ms to kill it): the request is never answered.
    std::this_thread::sleep_for(std::chrono::milliseconds(400));
    volatile unsigned char v = at_rank2[0];
    (void)v;
    // Under load rank 2 may still have answered; then the barrier blocks, as rank 2 never arrives.
    dsm::barrier();
  } else {
    std::fprintf(stderr, "death_probe: unknown place %s\n", where.c_str());
    return 2;
  }
  std::printf("death_probe: rank %d survived\n", me);
  return 0;
}
