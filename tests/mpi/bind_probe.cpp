// bind_probe.cpp: checks where DSM_BIND put the ranks, with the kernel's own answer
// (sched_getaffinity of every thread of the process, after a barrier so that the engine thread has
// placed itself) and the kernel's own idea of a core (/sys/.../topology/core_cpus_list), not hwloc's.
// Driven by bind_check.sh. Usage: bind_probe core|distinct|unchanged
//   core       every thread of a rank is bound to exactly the hardware threads of one core, and no
//              two ranks share a core (DSM_BIND=core with no more ranks than cores)
//   distinct   like core, but a rank may also be bound to one hardware thread (DSM_BIND=auto)
//   unchanged  every thread's affinity equals the affinity the process had before dsm::init
// Each rank reports one line ("bind_probe: rank R: before B, after A (T threads), core C"); rank 0
// prints "bind_probe: OK" or "bind_probe: FAIL: <why>" and the exit status is 0 only on OK.
// Exits 77 (skip) when the check cannot mean anything here (one core for `core`).
#include <dirent.h>
#include <mpi.h>
#include <sched.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "dsm/dsm.hpp"

namespace {

using cpus = std::set<int>;

cpus affinity_of(pid_t tid) {
  cpu_set_t set;
  CPU_ZERO(&set);
  cpus out;
  if (sched_getaffinity(tid, sizeof set, &set) != 0) return out;
  for (int c = 0; c < CPU_SETSIZE; ++c)
    if (CPU_ISSET(c, &set)) out.insert(c);
  return out;
}

// "0-3,8" -> {0,1,2,3,8}
cpus parse_list(const std::string& s) {
  cpus out;
  std::size_t i = 0;
  while (i < s.size()) {
    char* end = nullptr;
    const long a = std::strtol(s.c_str() + i, &end, 10);
    if (end == s.c_str() + i) break;
    long b = a;
    i = static_cast<std::size_t>(end - s.c_str());
    if (i < s.size() && s[i] == '-') {
      b = std::strtol(s.c_str() + i + 1, &end, 10);
      i = static_cast<std::size_t>(end - s.c_str());
    }
    for (long c = a; c <= b; ++c) out.insert(static_cast<int>(c));
    if (i < s.size() && s[i] == ',') ++i;
    else break;
  }
  return out;
}

// The hardware threads of the core that CPU c belongs to, as the kernel says.
cpus core_of(int c) {
  for (const char* leaf : {"core_cpus_list", "thread_siblings_list"}) {
    std::ifstream f("/sys/devices/system/cpu/cpu" + std::to_string(c) + "/topology/" + leaf);
    std::string line;
    if (f && std::getline(f, line)) return parse_list(line);
  }
  return {c};
}

std::string str(const cpus& s) {
  std::string out;
  for (int c : s) out += (out.empty() ? "" : ",") + std::to_string(c);
  return out.empty() ? "none" : out;
}

std::vector<pid_t> threads() {
  std::vector<pid_t> out;
  if (DIR* d = opendir("/proc/self/task")) {
    while (dirent* e = readdir(d))
      if (e->d_name[0] != '.') out.push_back(static_cast<pid_t>(std::atoi(e->d_name)));
    closedir(d);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string mode = argc > 1 ? argv[1] : "";
  const cpus before = affinity_of(0);
  dsm::runtime rt(argc, argv);
  dsm::barrier();  // every engine thread has run and placed itself

  // This rank: every thread's affinity must be one and the same set.
  std::string why;
  const std::vector<pid_t> tids = threads();
  const cpus after = affinity_of(0);
  for (pid_t t : tids) {
    const cpus a = affinity_of(t);
    if (a != after) why = "thread " + std::to_string(t) + " is bound to " + str(a) + ", the main thread to " + str(after);
  }
  const cpus core = after.empty() ? cpus{} : core_of(*after.begin());
  if (why.empty()) {
    if (mode == "unchanged") {
      if (after != before) why = "affinity changed from " + str(before) + " to " + str(after);
    } else if (mode == "core" || mode == "distinct") {
      const bool one_core = after == core;
      const bool one_pu = after.size() == 1;
      if (!(one_core || (mode == "distinct" && one_pu))) {
        why = "bound to " + str(after) + ", not exactly " + (mode == "core" ? "one core" : "one core or one PU") +
              " (the core of CPU " + std::to_string(after.empty() ? -1 : *after.begin()) + " is " + str(core) + ")";
      }
    } else {
      why = "unknown mode '" + mode + "'";
    }
  }
  std::printf("bind_probe: rank %d: before %s, after %s (%zu threads), core %s%s%s\n", dsm::rank(), str(before).c_str(),
              str(after).c_str(), tids.size(), str(core).c_str(), why.empty() ? "" : ": ", why.c_str());
  std::fflush(stdout);

  // Rank 0 gathers every rank's binding (as a CPU bitmask) and verdict; bound ranks must not overlap.
  const int ranks = dsm::ranks();
  unsigned long long mine[2] = {0, why.empty() ? 0ull : 1ull};
  for (int c : after)
    if (c < 64) mine[0] |= 1ull << c;
  std::vector<unsigned long long> all(2 * static_cast<std::size_t>(ranks));
  MPI_Gather(mine, 2, MPI_UNSIGNED_LONG_LONG, all.data(), 2, MPI_UNSIGNED_LONG_LONG, 0, MPI_COMM_WORLD);
  int status = 0;
  if (dsm::rank() == 0) {
    std::string verdict;
    for (int r = 0; r < ranks && verdict.empty(); ++r)
      if (all[2 * r + 1] != 0) verdict = "rank " + std::to_string(r) + " is not placed as '" + mode + "' requires";
    if (verdict.empty() && mode != "unchanged") {
      for (int r = 0; r < ranks && verdict.empty(); ++r)
        for (int q = r + 1; q < ranks && verdict.empty(); ++q)
          if ((all[2 * r] & all[2 * q]) != 0) verdict = "ranks " + std::to_string(r) + " and " + std::to_string(q) + " share a CPU";
    }
    std::printf("bind_probe: %s%s\n", verdict.empty() ? "OK" : "FAIL: ", verdict.c_str());
    std::fflush(stdout);
    status = verdict.empty() ? 0 : 1;
  }
  MPI_Bcast(&status, 1, MPI_INT, 0, MPI_COMM_WORLD);
  dsm::barrier();
  return status;
}
