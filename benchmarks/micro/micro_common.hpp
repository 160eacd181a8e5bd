// micro_common.hpp: what the micro benchmarks share. Each micro benchmark times one dsm operation
// and, in the same run, the floor that operation cannot beat on this machine, and prints both with
// their ratio: a human table and one `RESULT {json}` line per row, the line benchmarks/run_suite.py
// reads. Here: the command line (--size smoke|quick|full), medians, the floors (a bare protection
// fault with mprotect; a request/reply round trip of a given size over the channel dsm's transport
// is built on, which a benchmark can interleave sample by sample with what it measures; a barrier
// of MPI ranks that sleeps instead of spinning while it waits), and the result line. Called from the
// application thread only. sleepy_barrier, same_node and the channel's constructor are collective
// over the communicator they take; the channel's run, once, serve and stop involve ranks 0 and 1.
#ifndef DSM_BENCHMARKS_MICRO_COMMON_HPP_
#define DSM_BENCHMARKS_MICRO_COMMON_HPP_

#include <fcntl.h>
#include <linux/futex.h>
#include <mpi.h>
#include <sched.h>
#include <signal.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "result_line.hpp"

namespace micro {

using clock_type = std::chrono::steady_clock;

inline double micros_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

inline double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// ---- command line ----------------------------------------------------------------------------------

// How many repetitions: smoke (a few, for the runner's own test), quick (the suite's default), full.
struct options {
  std::string size = "quick";
  // Scales a repetition count chosen for quick: smoke takes a tenth (at least 2), full four times.
  long reps(long quick) const {
    if (size == "smoke") return std::max(2L, quick / 10);
    if (size == "full") return quick * 4;
    return quick;
  }
};

// Reads --size smoke|quick|full (also --size=...); exits 2 on anything else. Call after dsm::init,
// which has removed its own --dsm-* flags.
inline options parse_options(int argc, char** argv, const char* program) {
  options o;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--size" && i + 1 < argc) {
      o.size = argv[++i];
    } else if (a.rfind("--size=", 0) == 0) {
      o.size = a.substr(7);
    } else {
      std::fprintf(stderr, "%s: unknown argument '%s' (valid: --size smoke|quick|full)\n", program, a.c_str());
      std::exit(2);
    }
    if (o.size != "smoke" && o.size != "quick" && o.size != "full") {
      std::fprintf(stderr, "%s: --size '%s' (valid: smoke, quick, full)\n", program, o.size.c_str());
      std::exit(2);
    }
  }
  return o;
}

// ---- floor: a bare protection fault, measured before dsm::init -----------------------------------

namespace detail {
inline char* fault_page = nullptr;
inline long page_size = 4096;
inline int fault_grant = PROT_READ;  // what the handler grants: PROT_READ for loads, +PROT_WRITE for stores

inline void bare_fault_handler(int, siginfo_t* info, void*) {
  char* addr = static_cast<char*>(info->si_addr);
  if (addr < fault_page || addr >= fault_page + page_size) {
    signal(SIGSEGV, SIG_DFL);  // not ours: the default action runs when the access re-executes
    return;
  }
  mprotect(fault_page, static_cast<std::size_t>(page_size), fault_grant);
}
}  // namespace detail

struct fault_floor {
  double read_us = 0.0;
  double write_us = 0.0;
};

// SIGSEGV on a PROT_NONE page of our own, mprotect in the handler, return: the median over `samples`
// loads and stores. Must run before dsm::init, which installs dsm's own handler.
inline fault_floor measure_bare_fault(int samples) {
  using namespace detail;
  page_size = sysconf(_SC_PAGESIZE);
  const auto bytes = static_cast<std::size_t>(page_size);
  void* p = mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("micro: mmap");
    std::exit(1);
  }
  fault_page = static_cast<char*>(p);
  fault_page[0] = 1;  // committed, so no first-touch cost is measured

  struct sigaction act {}, old {};
  act.sa_sigaction = bare_fault_handler;
  act.sa_flags = SA_SIGINFO;
  sigemptyset(&act.sa_mask);
  sigaction(SIGSEGV, &act, &old);

  std::vector<double> reads, writes;
  for (int i = 0; i < samples + 10; ++i) {
    fault_grant = PROT_READ;
    mprotect(fault_page, bytes, PROT_NONE);
    auto t0 = clock_type::now();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    (void)*static_cast<volatile char*>(fault_page);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const double r = micros_since(t0);

    fault_grant = PROT_READ | PROT_WRITE;
    mprotect(fault_page, bytes, PROT_NONE);
    t0 = clock_type::now();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    *static_cast<volatile char*>(fault_page) = static_cast<char>(i);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const double w = micros_since(t0);
    if (i >= 10) {  // the first few warm the path up
      reads.push_back(r);
      writes.push_back(w);
    }
  }
  sigaction(SIGSEGV, &old, nullptr);
  munmap(fault_page, bytes);
  fault_page = nullptr;
  return {median(reads), median(writes)};
}

// ---- waiting without spinning ------------------------------------------------------------------------

// MPI_Barrier that sleeps between polls (about 100 us per poll on these VMs), for ranks that stand by
// while others are timed: a spinning rank would steal a core from the ranks being measured.
inline void sleepy_barrier(MPI_Comm comm) {
  MPI_Request req;
  MPI_Ibarrier(comm, &req);
  int done = 0;
  MPI_Test(&req, &done, MPI_STATUS_IGNORE);
  while (!done) {
    timespec ts{0, 50000};
    nanosleep(&ts, nullptr);
    MPI_Test(&req, &done, MPI_STATUS_IGNORE);
  }
}

// ---- where the ranks are, and which channel dsm's transport uses -------------------------------------

// The transport dsm will use, as configured (the --dsm-transport= flag wins over DSM_TRANSPORT);
// "mpi" also when DSM_NODE_SHM=off, which sends node-mates' messages through MPI. Read before
// dsm::init, which removes the flags from argv.
inline std::string configured_transport(int argc, char** argv) {
  std::string t = "auto", node_shm = "on";
  if (const char* e = std::getenv("DSM_TRANSPORT")) t = e;
  if (const char* e = std::getenv("DSM_NODE_SHM")) node_shm = e;
  for (int i = 1; i < argc; ++i) {
    if (std::strncmp(argv[i], "--dsm-transport=", 16) == 0) t = argv[i] + 16;
    if (std::strncmp(argv[i], "--dsm-node-shm=", 15) == 0) node_shm = argv[i] + 15;
  }
  return node_shm == "off" ? std::string("mpi") : t;
}

// True if ranks a and b of comm share a node. Collective over comm.
inline bool same_node(MPI_Comm comm, int a, int b) {
  int me = 0, n = 1;
  MPI_Comm_rank(comm, &me);
  MPI_Comm_size(comm, &n);
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int leader = 0;  // the lowest rank on my node names the node
  MPI_Allreduce(&me, &leader, 1, MPI_INT, MPI_MIN, node);
  std::vector<int> leaders(static_cast<std::size_t>(n));
  MPI_Allgather(&leader, 1, MPI_INT, leaders.data(), 1, MPI_INT, comm);
  MPI_Comm_free(&node);
  return leaders[static_cast<std::size_t>(a)] == leaders[static_cast<std::size_t>(b)];
}

// ---- floor: a request/reply round trip between ranks 0 and 1 -----------------------------------------

namespace detail {
inline long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, value, nullptr, nullptr, 0);
}
// Sleep in the kernel until *word != value.
inline void futex_wait_while(std::atomic<std::uint32_t>* word, std::uint32_t value) {
  while (word->load(std::memory_order_acquire) == value) futex(word, FUTEX_WAIT, value);
}
}  // namespace detail

// A request/reply channel between ranks 0 and 1 over the medium dsm's transport uses between them:
// a POSIX shared-memory segment with a futex doorbell, both sides sleeping in FUTEX_WAIT, when they
// share a node and the transport is not forced to MPI; else MPI_Isend/Irecv on the given
// communicator, both sides waiting with MPI_Test + sched_yield. A round trip copies a `request`-byte
// request in and out and a `reply`-byte reply in and out. One of the two ranks is the client (it
// times), the other serves. The constructor is collective over comm; after it only the two ranks
// take part, so a benchmark can interleave its floor sample by sample with the operation it
// measures, and both see the same machine: the client alternates an operation and once(), the
// server sits in serve() (asleep in the kernel, as an idle rank would be) until the client's stop().
class round_trip_channel {
 public:
  round_trip_channel(MPI_Comm comm, bool node_local, std::size_t request, std::size_t reply, int client = 0)
      : comm_(comm), request_(std::max<std::size_t>(request, 1)), reply_(std::max<std::size_t>(reply, 1)),
        client_(client) {
    MPI_Comm_rank(comm, &me_);
    out_.assign(std::max(request_, reply_), 7);
    landing_.assign(std::max(request_, reply_), 0);
    if (node_local) open_shm();
    what_ = base_ != nullptr ? "futex round trip over shared memory" : "MPI round trip, MPI_Test + sched_yield";
    what_ += " (" + std::to_string(request_) + " B + " + std::to_string(reply_) + " B)";
  }
  ~round_trip_channel() {
    if (base_ != nullptr) munmap(base_, bytes_);
  }
  round_trip_channel(const round_trip_channel&) = delete;
  round_trip_channel& operator=(const round_trip_channel&) = delete;

  const std::string& what() const { return what_; }
  bool client() const { return me_ == client_; }
  bool server() const { return me_ == 1 - client_; }

  // Client: one round trip; its time in us.
  double once() { return exchange(0); }
  // Client: ends the server's serve().
  void stop() { exchange(1); }
  // Server: answers requests until the client's stop().
  void serve() {
    while (answer() == 0) {
    }
  }
  // Both ranks of the channel: `samples` round trips after `warm` untimed ones; the client appends
  // each one's time in us to *out. Other ranks return at once.
  void run(int samples, std::vector<double>* out, int warm = 0) {
    if (client()) {
      for (int i = 0; i < warm + samples; ++i) {
        const double us = once();
        if (i >= warm) out->push_back(us);
      }
      stop();
    } else if (server()) {
      serve();
    }
  }

 private:
  struct shm_header {
    std::atomic<std::uint32_t> turn;  // 0: the requester's turn, 1: the server's turn
    std::uint32_t pad[15];
    // followed by the request buffer, then the reply buffer
  };

  void open_shm() {
    long tag = me_ == 0 ? static_cast<long>(getpid()) : 0;
    MPI_Bcast(&tag, 1, MPI_LONG, 0, comm_);
    static int serial = 0;
    const std::string name = "/dsm-micro-" + std::to_string(tag) + "-" + std::to_string(serial++);
    bytes_ = sizeof(shm_header) + request_ + reply_;
    int ok = 1, fd = -1;
    if (me_ == 0) {
      fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);  // zero-filled: turn == 0
      if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes_)) != 0) ok = 0;
    }
    MPI_Bcast(&ok, 1, MPI_INT, 0, comm_);  // rank 1 opens the segment only after rank 0 made it
    if (ok && me_ == 1) fd = shm_open(name.c_str(), O_RDWR, 0600);
    void* base = MAP_FAILED;
    if (ok && me_ <= 1 && fd >= 0) base = mmap(nullptr, bytes_, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    int mine = me_ > 1 || base != MAP_FAILED;
    MPI_Allreduce(&mine, &ok, 1, MPI_INT, MPI_MIN, comm_);
    if (me_ == 0) shm_unlink(name.c_str());
    if (fd >= 0) close(fd);
    if (ok && me_ <= 1) base_ = static_cast<char*>(base);
    else if (base != MAP_FAILED) munmap(base, bytes_);
    int any = base_ != nullptr || me_ > 1;  // every rank agrees on the medium
    MPI_Allreduce(&any, &ok, 1, MPI_INT, MPI_MIN, comm_);
    if (!ok && base_ != nullptr) {
      munmap(base_, bytes_);
      base_ = nullptr;
    }
  }

  // Client side of one round trip; the first request byte tells the server to stop (1) or not (0).
  double exchange(char stop_flag) {
    out_[0] = stop_flag;
    const auto t0 = clock_type::now();
    if (base_ != nullptr) {
      using namespace detail;
      auto* h = reinterpret_cast<shm_header*>(base_);
      char* req_buf = base_ + sizeof(shm_header);
      char* reply_buf = req_buf + request_;
      std::memcpy(req_buf, out_.data(), request_);
      h->turn.store(1, std::memory_order_release);
      futex(&h->turn, FUTEX_WAKE, 1);
      futex_wait_while(&h->turn, 1);
      std::memcpy(landing_.data(), reply_buf, reply_);  // the reply lands in private memory
    } else {
      const int peer = 1 - client_;
      MPI_Request req;
      MPI_Isend(out_.data(), static_cast<int>(request_), MPI_BYTE, peer, 1, comm_, &req);
      wait_yielding(&req);
      MPI_Irecv(landing_.data(), static_cast<int>(reply_), MPI_BYTE, peer, 2, comm_, &req);
      wait_yielding(&req);
    }
    return micros_since(t0);
  }

  // Server side of one round trip; returns the request's stop flag.
  char answer() {
    if (base_ != nullptr) {
      using namespace detail;
      auto* h = reinterpret_cast<shm_header*>(base_);
      char* req_buf = base_ + sizeof(shm_header);
      char* reply_buf = req_buf + request_;
      futex_wait_while(&h->turn, 0);
      std::memcpy(landing_.data(), req_buf, request_);
      std::memcpy(reply_buf, out_.data(), reply_);
      h->turn.store(0, std::memory_order_release);
      futex(&h->turn, FUTEX_WAKE, 1);
    } else {
      const int peer = client_;
      MPI_Request req;
      MPI_Irecv(landing_.data(), static_cast<int>(request_), MPI_BYTE, peer, 1, comm_, &req);
      wait_yielding(&req);
      MPI_Isend(out_.data(), static_cast<int>(reply_), MPI_BYTE, peer, 2, comm_, &req);
      wait_yielding(&req);
    }
    return landing_[0];
  }

  static void wait_yielding(MPI_Request* req) {
    int done = 0;
    MPI_Test(req, &done, MPI_STATUS_IGNORE);
    while (!done) {
      sched_yield();
      MPI_Test(req, &done, MPI_STATUS_IGNORE);
    }
  }

  MPI_Comm comm_;
  int me_ = 0;
  std::size_t request_, reply_, bytes_ = 0;
  int client_ = 0;
  char* base_ = nullptr;
  std::vector<char> out_, landing_;
  std::string what_;
};

// Rank 1 -> rank 0: a value only rank 1 measured. Collective over ranks 0 and 1 of comm.
inline double from_rank1(MPI_Comm comm, double v) {
  int me = 0;
  MPI_Comm_rank(comm, &me);
  if (me == 1) MPI_Send(&v, 1, MPI_DOUBLE, 0, 77, comm);
  if (me == 0) MPI_Recv(&v, 1, MPI_DOUBLE, 1, 77, comm, MPI_STATUS_IGNORE);
  return v;
}

// ---- the result line -------------------------------------------------------------------------------

// One measured row. `op` is the row's name (read_miss, lock_remote, ...); per_op_* come from
// dsm::stats() summed over all ranks, -1 when not measured.
struct row {
  std::string bench;     // the program: remote_miss, lock, barrier, diff
  std::string op;        // the row
  std::string model;     // "" when the row does not depend on the model
  int ranks = 1;
  std::string size;
  double median_us = 0.0;
  double floor_us = 0.0;
  std::string floor;     // what the floor is
  long samples = 0;
  double msgs_per_op = -1.0;
  double bytes_per_op = -1.0;
  bool verified = true;
  std::string check;
};

// Prints the human line and the RESULT line (one JSON object, result_line.hpp) of one row
// (call on one rank only).
inline void print_row(const row& r) {
  const double ratio = r.floor_us > 0.0 ? r.median_us / r.floor_us : 0.0;
  std::printf("%-22s %-14s np%-2d %12.3f %12.3f %7.2f   %s\n", r.op.c_str(), r.model.empty() ? "-" : r.model.c_str(),
              r.ranks, r.median_us, r.floor_us, ratio, r.floor.c_str());
  const bench::fields line = {
      {"app", std::string("micro")}, {"bench", r.bench}, {"op", r.op}, {"version", std::string("dsm")}, {"model", r.model},
      {"ranks", static_cast<long long>(r.ranks)}, {"size", r.size},
      {"median_us", bench::rounded(r.median_us, 4)}, {"floor_us", bench::rounded(r.floor_us, 4)},
      {"ratio", bench::rounded(ratio, 4)}, {"floor", r.floor}, {"samples", static_cast<long long>(r.samples)},
      {"msgs_per_op", bench::rounded(r.msgs_per_op, 3)}, {"bytes_per_op", bench::rounded(r.bytes_per_op, 1)},
      {"verified", r.verified}, {"check", r.check}};
  std::printf("RESULT %s\n", bench::json_line(line).c_str());
  std::fflush(stdout);
}

inline void print_header(const char* title) {
  std::printf("%s\n%-22s %-14s %-4s %12s %12s %7s   %s\n", title, "operation", "model", "np", "median us",
              "floor us", "ratio", "floor");
  std::fflush(stdout);
}

}  // namespace micro

#endif  // DSM_BENCHMARKS_MICRO_COMMON_HPP_
