// remote_miss: the cost of one remote read miss and one remote write miss of a unit between two
// ranks, printed next to the floor that this same program measures in the same run.
//
// Pattern (ranks 0 and 1; any further ranks only take part in the barriers), repeated for `rounds`:
//   rank 0 writes one word of every one of `units` units (it becomes their owner), barrier;
//   rank 1 reads one word of each unit, timing every load       -> remote read miss;
//   barrier, rank 0 writes every unit again (rank 1's copies are invalidated), barrier;
//   rank 1 writes one word of each unit, timing every store     -> remote write miss.
// Every timed access is the first touch of a unit that rank 0 wrote last, so each one is a fault,
// a request to the manager/owner and the unit coming back.
//
// The floor has two parts, both measured here:
//  (a) a bare protection fault: SIGSEGV on a PROT_NONE page of our own, mprotect in the handler,
//      return. Measured before dsm::init (which installs dsm's own SIGSEGV handler), with a private
//      handler that is removed again before init.
//  (b) a round trip carrying one unit: a 16-byte request and a unit-sized reply. The transport dsm
//      uses is internal, so we measure the round trip it is built on:
//        - node-local path (DSM_TRANSPORT=auto|shm, both ranks on one node): a shared-memory buffer
//          with a futex doorbell, both sides sleeping in the kernel (FUTEX_WAIT) while they wait;
//        - MPI path (DSM_TRANSPORT=mpi or ranks on different nodes): MPI_Isend/Irecv on a private
//          communicator, both sides waiting with MPI_Test + sched_yield (no sleeping backoff).
//      The MPI round trip with a nanosleep backoff is printed too, for reference only.
// floor = (a) + (b) for the transport in use; ratio = median / floor.
//
// Usage: mpirun -np 2 ./remote_miss [units-per-round=200] [rounds=5]   (DSM_UNIT sets the unit size)
#include <dsm/dsm.hpp>
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
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

double micros_since(clock_type::time_point t0) {
  return std::chrono::duration<double, std::micro>(clock_type::now() - t0).count();
}

double median(std::vector<double> v) {
  if (v.empty()) return 0.0;
  std::sort(v.begin(), v.end());
  const std::size_t m = v.size() / 2;
  return v.size() % 2 ? v[m] : 0.5 * (v[m - 1] + v[m]);
}

// ---- floor (a): a bare protection fault, measured before dsm::init ---------------------------------

char* g_fault_page = nullptr;
long g_page_size = 4096;
int g_fault_grant = PROT_READ;  // what the handler grants: PROT_READ for loads, PROT_READ|PROT_WRITE for stores

void bare_fault_handler(int, siginfo_t* info, void*) {
  char* addr = static_cast<char*>(info->si_addr);
  if (addr < g_fault_page || addr >= g_fault_page + g_page_size) {
    signal(SIGSEGV, SIG_DFL);  // not ours: let the default action run when the access re-executes
    return;
  }
  mprotect(g_fault_page, static_cast<std::size_t>(g_page_size), g_fault_grant);
}

struct fault_floor {
  double read_us = 0.0;
  double write_us = 0.0;
};

fault_floor measure_bare_fault(int samples) {
  g_page_size = sysconf(_SC_PAGESIZE);
  void* p = mmap(nullptr, static_cast<std::size_t>(g_page_size), PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    std::perror("remote_miss: mmap");
    std::exit(1);
  }
  g_fault_page = static_cast<char*>(p);
  g_fault_page[0] = 1;  // committed, so no first-touch cost is measured

  struct sigaction act {}, old {};
  act.sa_sigaction = bare_fault_handler;
  act.sa_flags = SA_SIGINFO;
  sigemptyset(&act.sa_mask);
  sigaction(SIGSEGV, &act, &old);

  fault_floor f;
  std::vector<double> reads, writes;
  for (int i = 0; i < samples + 10; ++i) {
    g_fault_grant = PROT_READ;
    mprotect(g_fault_page, static_cast<std::size_t>(g_page_size), PROT_NONE);
    auto t0 = clock_type::now();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    (void)*static_cast<volatile char*>(g_fault_page);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const double r = micros_since(t0);

    g_fault_grant = PROT_READ | PROT_WRITE;
    mprotect(g_fault_page, static_cast<std::size_t>(g_page_size), PROT_NONE);
    t0 = clock_type::now();
    std::atomic_signal_fence(std::memory_order_seq_cst);
    *static_cast<volatile char*>(g_fault_page) = static_cast<char>(i);
    std::atomic_signal_fence(std::memory_order_seq_cst);
    const double w = micros_since(t0);
    if (i >= 10) {  // the first few warm the path up
      reads.push_back(r);
      writes.push_back(w);
    }
  }
  sigaction(SIGSEGV, &old, nullptr);  // dsm::init installs its own handler next
  munmap(g_fault_page, static_cast<std::size_t>(g_page_size));
  g_fault_page = nullptr;
  f.read_us = median(reads);
  f.write_us = median(writes);
  return f;
}

// ---- floor (b), node-local: a futex doorbell over a shared-memory buffer ----------------------------

long futex(std::atomic<std::uint32_t>* word, int op, std::uint32_t value) {
  return syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), op, value, nullptr, nullptr, 0);
}

// Sleep in the kernel until *word != value.
void futex_wait_while(std::atomic<std::uint32_t>* word, std::uint32_t value) {
  while (word->load(std::memory_order_acquire) == value) futex(word, FUTEX_WAIT, value);
}

struct shm_channel {
  std::atomic<std::uint32_t> turn;  // 0: the requester's turn, 1: the server's turn
  std::uint32_t pad[15];
  char request[64];
  // followed by the unit-sized reply buffer
};

// Round trips between ranks 0 (requester) and 1 (server) through a POSIX shared-memory segment.
// Returns the median round trip on rank 0, -1 on other ranks or if the segment cannot be shared.
double measure_futex_round_trip(MPI_Comm comm, std::size_t unit, int samples) {
  int me = 0;
  MPI_Comm_rank(comm, &me);
  long tag = me == 0 ? static_cast<long>(getpid()) : 0;
  MPI_Bcast(&tag, 1, MPI_LONG, 0, comm);
  const std::string name = "/dsm-remote-miss-" + std::to_string(tag);
  const std::size_t bytes = sizeof(shm_channel) + unit;
  int ok = 1;
  int fd = -1;
  if (me == 0) {
    fd = shm_open(name.c_str(), O_CREAT | O_EXCL | O_RDWR, 0600);
    if (fd < 0 || ftruncate(fd, static_cast<off_t>(bytes)) != 0) ok = 0;
  }
  MPI_Bcast(&ok, 1, MPI_INT, 0, comm);
  if (!ok) return -1.0;
  if (me == 1) fd = shm_open(name.c_str(), O_RDWR, 0600);
  void* base = fd >= 0 ? mmap(nullptr, bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0) : MAP_FAILED;
  int mine = (me > 1) || base != MAP_FAILED;
  MPI_Allreduce(&mine, &ok, 1, MPI_INT, MPI_MIN, comm);
  if (me == 0) shm_unlink(name.c_str());
  if (fd >= 0) close(fd);
  if (!ok) {
    if (base != MAP_FAILED) munmap(base, bytes);
    return -1.0;
  }

  std::vector<char> unit_data(unit, 7), landing(unit);
  std::vector<double> rtts;
  if (me <= 1) {
    auto* ch = static_cast<shm_channel*>(base);
    char* reply = static_cast<char*>(base) + sizeof(shm_channel);
    if (me == 0) ch->turn.store(0, std::memory_order_release);
    MPI_Barrier(comm);
    for (int i = 0; i < samples + 10; ++i) {
      if (me == 0) {
        const auto t0 = clock_type::now();
        std::memcpy(ch->request, &i, sizeof i);  // the request
        ch->turn.store(1, std::memory_order_release);
        futex(&ch->turn, FUTEX_WAKE, 1);
        futex_wait_while(&ch->turn, 1);
        std::memcpy(landing.data(), reply, unit);  // the unit lands in private memory
        if (i >= 10) rtts.push_back(micros_since(t0));
      } else {
        futex_wait_while(&ch->turn, 0);
        std::memcpy(reply, unit_data.data(), unit);  // the server copies the unit out
        ch->turn.store(0, std::memory_order_release);
        futex(&ch->turn, FUTEX_WAKE, 1);
      }
    }
  } else {
    MPI_Barrier(comm);
  }
  if (base != MAP_FAILED) munmap(base, bytes);
  MPI_Barrier(comm);
  return me == 0 ? median(rtts) : -1.0;
}

// ---- floor (b), MPI: a unit-sized reply with MPI_Test + a yielding (or sleeping) backoff ------------

void wait_for(MPI_Request* req, bool sleep_between) {
  int done = 0;
  MPI_Test(req, &done, MPI_STATUS_IGNORE);
  while (!done) {
    if (sleep_between) {
      timespec ts{0, 1000};
      nanosleep(&ts, nullptr);
    } else {
      sched_yield();
    }
    MPI_Test(req, &done, MPI_STATUS_IGNORE);
  }
}

double measure_mpi_round_trip(MPI_Comm comm, std::size_t unit, int samples, bool sleep_between) {
  int me = 0;
  MPI_Comm_rank(comm, &me);
  std::vector<char> request(16, 1), reply(unit, 2);
  std::vector<double> rtts;
  MPI_Barrier(comm);
  if (me <= 1) {
    for (int i = 0; i < samples + 10; ++i) {
      MPI_Request req;
      if (me == 0) {
        const auto t0 = clock_type::now();
        MPI_Isend(request.data(), 16, MPI_BYTE, 1, 1, comm, &req);
        wait_for(&req, sleep_between);
        MPI_Irecv(reply.data(), static_cast<int>(unit), MPI_BYTE, 1, 2, comm, &req);
        wait_for(&req, sleep_between);
        if (i >= 10) rtts.push_back(micros_since(t0));
      } else {
        MPI_Irecv(request.data(), 16, MPI_BYTE, 0, 1, comm, &req);
        wait_for(&req, sleep_between);
        MPI_Isend(reply.data(), static_cast<int>(unit), MPI_BYTE, 0, 2, comm, &req);
        wait_for(&req, sleep_between);
      }
    }
  }
  MPI_Barrier(comm);
  return me == 0 ? median(rtts) : -1.0;
}

// ---- the dsm misses --------------------------------------------------------------------------------

struct miss_medians {
  double read_us = 0.0;
  double write_us = 0.0;
};

miss_medians measure_misses(std::size_t units, int rounds) {
  const std::size_t unit = dsm::unit_size();
  const int me = dsm::rank();
  // One extra unit so that the first timed unit starts on a unit boundary whatever alloc's alignment.
  char* raw = dsm::alloc<char>((units + 1) * unit);
  char* base = reinterpret_cast<char*>((reinterpret_cast<std::uintptr_t>(raw) + unit - 1) / unit * unit);
  auto at = [&](std::size_t u) -> volatile long* { return reinterpret_cast<volatile long*>(base + u * unit); };

  std::vector<double> reads, writes;
  for (int round = 0; round <= rounds; ++round) {  // round 0 warms up and is not counted
    if (me == 0)
      for (std::size_t u = 0; u < units; ++u) *at(u) = round * 10 + 1;
    dsm::barrier();
    if (me == 1) {
      long sum = 0;
      for (std::size_t u = 0; u < units; ++u) {
        const auto t0 = clock_type::now();
        std::atomic_signal_fence(std::memory_order_seq_cst);
        sum += *at(u);
        std::atomic_signal_fence(std::memory_order_seq_cst);
        const double us = micros_since(t0);
        if (round > 0) reads.push_back(us);
      }
      if (sum != static_cast<long>(units) * (round * 10 + 1)) {
        std::fprintf(stderr, "remote_miss: rank 1 read a wrong value in round %d\n", round);
        std::exit(1);
      }
    }
    dsm::barrier();
    if (me == 0)
      for (std::size_t u = 0; u < units; ++u) *at(u) = round * 10 + 2;
    dsm::barrier();
    if (me == 1) {
      for (std::size_t u = 0; u < units; ++u) {
        const auto t0 = clock_type::now();
        std::atomic_signal_fence(std::memory_order_seq_cst);
        *at(u) = round * 10 + 3;
        std::atomic_signal_fence(std::memory_order_seq_cst);
        const double us = micros_since(t0);
        if (round > 0) writes.push_back(us);
      }
    }
    dsm::barrier();
  }
  dsm::free(raw);
  return {median(reads), median(writes)};
}

// A DSM_* setting as configured (the --dsm-* flag wins over the environment).
std::string configured(int argc, char** argv, const char* variable, const char* flag, const char* fallback) {
  std::string t = fallback;
  if (const char* e = std::getenv(variable)) t = e;
  const std::size_t n = std::strlen(flag);
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], flag, n) == 0) t = argv[i] + n;
  return t;
}

}  // namespace

int main(int argc, char** argv) {
  const std::string transport = configured(argc, argv, "DSM_TRANSPORT", "--dsm-transport=", "auto");
  // DSM_NODE_SHM=off sends node-mates' messages through MPI, as DSM_TRANSPORT=mpi does.
  const bool node_shm = configured(argc, argv, "DSM_NODE_SHM", "--dsm-node-shm=", "on") != "off";
  // (a) before dsm::init, so that our private SIGSEGV handler never meets dsm's.
  const fault_floor fault = measure_bare_fault(2000);

  dsm::runtime rt(argc, argv);
  const std::size_t units = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 200;
  const int rounds = argc > 2 ? std::atoi(argv[2]) : 5;
  const int me = dsm::rank();
  if (dsm::ranks() < 2) {
    if (me == 0) std::fprintf(stderr, "remote_miss: needs 2 ranks (mpirun -np 2)\n");
    return 2;
  }
  const std::size_t unit = dsm::unit_size();

  MPI_Comm comm;  // our own communicator for the floor, so we never meet dsm's or the program's traffic
  MPI_Comm_dup(MPI_COMM_WORLD, &comm);
  // Are ranks 0 and 1 on one node? (Then the default transport is the node-local one.)
  MPI_Comm node;
  MPI_Comm_split_type(comm, MPI_COMM_TYPE_SHARED, 0, MPI_INFO_NULL, &node);
  int leader = 0;  // the lowest world rank on my node names the node
  MPI_Allreduce(&me, &leader, 1, MPI_INT, MPI_MIN, node);
  std::vector<int> leaders(static_cast<std::size_t>(dsm::ranks()));
  MPI_Allgather(&leader, 1, MPI_INT, leaders.data(), 1, MPI_INT, comm);
  const bool same_node = leaders[0] == leaders[1];
  const bool node_local = same_node && transport != "mpi" && node_shm;

  const int rt_samples = 2000;
  const double futex_rtt = same_node ? measure_futex_round_trip(comm, unit, rt_samples) : -1.0;
  const double mpi_yield_rtt = measure_mpi_round_trip(comm, unit, rt_samples, false);
  const double mpi_sleep_rtt = measure_mpi_round_trip(comm, unit, 500, true);

  const miss_medians miss = measure_misses(units, rounds);

  // Rank 1 timed the misses; rank 0 timed the round trips. Bring everything to rank 0.
  double from1[2] = {miss.read_us, miss.write_us};
  if (me == 1) MPI_Send(from1, 2, MPI_DOUBLE, 0, 3, comm);
  if (me == 0) {
    MPI_Recv(from1, 2, MPI_DOUBLE, 1, 3, comm, MPI_STATUS_IGNORE);
    const double rtt = node_local ? futex_rtt : mpi_yield_rtt;
    const char* rtt_name = node_local ? "futex doorbell over shared memory, sleeping" : "MPI_Test + sched_yield";
    const double read_floor = fault.read_us + rtt;
    const double write_floor = fault.write_us + rtt;
    std::printf("remote_miss: %d ranks (ranks 0 and 1 measured), unit %zu B, DSM_TRANSPORT=%s (%s path), %zu units x %d rounds per miss kind\n",
                dsm::ranks(), unit, transport.c_str(), node_local ? "node-local" : "MPI", units, rounds);
    std::printf("floor = bare fault (SIGSEGV + mprotect + return) + round trip of a unit (%s)\n", rtt_name);
    std::printf("%-34s %10s %10s %7s\n", "operation", "median us", "floor us", "ratio");
    std::printf("%-34s %10.1f %10.1f %7.2f\n", "remote read miss", from1[0], read_floor, from1[0] / read_floor);
    std::printf("%-34s %10.1f %10.1f %7.2f\n", "remote write miss", from1[1], write_floor, from1[1] / write_floor);
    std::printf("%-34s %10.1f %10s %7s\n", "  floor: bare read fault", fault.read_us, "-", "-");
    std::printf("%-34s %10.1f %10s %7s\n", "  floor: bare write fault", fault.write_us, "-", "-");
    if (futex_rtt >= 0)
      std::printf("%-34s %10.1f %10s %7s\n", "  round trip, futex shm (sleeping)", futex_rtt, "-", "-");
    std::printf("%-34s %10.1f %10s %7s\n", "  round trip, MPI + sched_yield", mpi_yield_rtt, "-", "-");
    std::printf("%-34s %10.1f %10s %7s\n", "  round trip, MPI + nanosleep(1us)", mpi_sleep_rtt, "-", "-");
  }
  MPI_Comm_free(&node);
  MPI_Comm_free(&comm);
  return 0;
}
