// dsm-sessions: the program behind the client-centric chapter of docs/models.md. At 3 ranks, a
// writer (rank 0) publishes new versions of x under its own lock; a client (rank 1) reads x, writes
// y and reads it back, writes w, and copies the version of x it read into z, publishing its writes
// with a release of a lock nobody else takes; an observer (rank 2) reads z, x and w. Neither the
// client nor the observer ever acquires a lock another rank released: they read without
// synchronising, and only the barrier between rounds brings them up to date. Every value is a
// version: each writer's values increase.
//
// The client and the observer log every access with its time (CLOCK_MONOTONIC, the clock DSM_TRACE
// uses) and the time each of the program's barriers returned, into <prefix>.<rank>.json;
// check_sessions.py checks monotonic reads, read-your-writes, monotonic writes and
// writes-follow-reads on the logs and, given the DSM_TRACE file, lines each violation up with the
// protocol events of the rank that saw it.
//
//   DSM_MODEL=eager-release DSM_TRACE=s.json mpirun -np 3 -x DSM_MODEL -x DSM_TRACE dsm-sessions --rounds=200
//   python3 tools/litmus/check_sessions.py s.json s.sessions
//
// Collective: every rank runs the same rounds and barriers. Exit status 2 on a usage error.
#include <time.h>

#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "dsm/dsm.hpp"
#include "jitter.hpp"

namespace {

std::int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<std::int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

long load(long* v) { return std::atomic_ref<long>(*v).load(std::memory_order_seq_cst); }
void store(long* v, long x) { std::atomic_ref<long>(*v).store(x, std::memory_order_seq_cst); }

struct access {
  std::int64_t t;
  char kind;  // R W
  char loc;   // x y w z
  long value;
};

struct session_log {
  std::vector<access> accesses;
  std::vector<std::int64_t> barriers;
  void read(char loc, long v) { accesses.push_back({now_ns(), 'R', loc, v}); }
  void wrote(char loc, long v) { accesses.push_back({now_ns(), 'W', loc, v}); }
  void barrier() {
    dsm::barrier();
    barriers.push_back(now_ns());
  }
  // {"rank": r, "model": "...", "barriers": [t, ...], "accesses": [[t, "R", "x", value], ...]}
  bool write(const std::string& path, int rank) const {
    nlohmann::ordered_json doc = {{"rank", rank}, {"model", dsm::model_name(dsm::current_model())}, {"barriers", barriers}};
    auto& list = doc["accesses"] = nlohmann::ordered_json::array();
    for (const access& a : accesses)
      list.push_back({a.t, std::string(1, a.kind), std::string(1, a.loc), a.value});
    std::FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) return false;
    const std::string text = doc.dump() + "\n";
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    return std::fclose(f) == 0 && ok;
  }
};

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  int rounds = 200, iterations = 20;
  std::string prefix;
  if (const char* t = std::getenv("DSM_TRACE")) {
    prefix = t;
    if (prefix.size() > 5 && prefix.compare(prefix.size() - 5, 5, ".json") == 0) prefix.resize(prefix.size() - 5);
    prefix += ".sessions";
  } else {
    prefix = "sessions";
  }
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    if (a.rfind("--rounds=", 0) == 0) rounds = std::atoi(a.c_str() + 9);
    else if (a.rfind("--iterations=", 0) == 0) iterations = std::atoi(a.c_str() + 13);
    else if (a.rfind("--log=", 0) == 0) prefix = a.substr(6);
    else {
      if (dsm::rank() == 0)
        std::fprintf(stderr, "usage: mpirun -np 3 dsm-sessions [--rounds=200] [--iterations=20] [--log=PREFIX]\n");
      return 2;
    }
  }
  if (dsm::ranks() < 3 || rounds < 1 || iterations < 1) {
    if (dsm::rank() == 0) std::fprintf(stderr, "dsm-sessions: needs 3 ranks, and at least one round and iteration\n");
    return 2;
  }

  const std::size_t stride = std::max<std::size_t>(dsm::unit_size(), sizeof(long));
  auto* space = dsm::alloc<std::byte>(stride * 4);
  auto at = [&](int i) { return reinterpret_cast<long*>(space + stride * static_cast<std::size_t>(i)); };
  long *x = at(0), *y = at(1), *w = at(2), *z = at(3);
  dsm::mutex writer_lock{1}, client_lock{2};
  const int me = dsm::rank();
  litmus::jitter pause(0x9e3779b97f4a7c15ull * static_cast<std::uint64_t>(me + 1), 0, 4000);
  session_log log;
  long version = 0;
  volatile long sink = 0;

  log.barrier();
  for (long* v : {x, y, w, z}) sink = sink + load(v);  // every rank holds a copy of everything
  log.barrier();
  for (int round = 0; round < rounds; ++round) {
    for (int k = 0; k < iterations; ++k) {
      pause();
      if (me == 0) {
        writer_lock.acquire();
        store(x, ++version);
        writer_lock.release();
      } else if (me == 1) {
        const long seen = load(x);
        log.read('x', seen);
        store(y, ++version);
        log.wrote('y', version);
        log.read('y', load(y));
        store(w, version);
        log.wrote('w', version);
        store(z, seen);
        log.wrote('z', seen);
        client_lock.acquire();  // publishes the writes (eager release pushes them); brings nothing
        client_lock.release();
      } else if (me == 2) {
        log.read('z', load(z));
        log.read('x', load(x));
        log.read('w', load(w));
      }
    }
    log.barrier();
  }
  dsm::free(space);
  if (me == 1 || me == 2) {
    const std::string path = prefix + "." + std::to_string(me) + ".json";
    if (!log.write(path, me)) std::fprintf(stderr, "dsm-sessions: cannot write %s\n", path.c_str());
  }
  if (me == 0)
    std::printf("dsm-sessions: %s, %d rounds of %d iterations; logs in %s.1.json (client), %s.2.json (observer)\n",
                dsm::model_name(dsm::current_model()), rounds, iterations, prefix.c_str(), prefix.c_str());
  return 0;
}
