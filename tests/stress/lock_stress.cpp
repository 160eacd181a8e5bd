// lock_stress: many lock acquires over many locks, with writes to the data each lock guards and
// periodic barriers; every increment must be accounted for, nothing may deadlock, and the memory
// the runtime holds must stay bounded. Runs under every model.
//
//   mpirun -np 4 ./lock_stress [--ops=N] [--soak] [--locks=L] [--barrier-every=B] [--objects=K]
//                              [--protocol-bound=BYTES] [--rss-bound=BYTES] [--flat-bound=BYTES]
//
// N acquires in total over all ranks (default 100,000; --soak: 1,000,000; DSM_STRESS_OPS, if set,
// replaces either), spread over L locks (default 64). Lock l guards one record: a counter, a stamp
// written together with it, one tally per rank and an array of slots. The records are packed 16 to
// a 4 KiB unit, so records of different locks share units (false sharing: the release models must
// merge the diffs of ranks holding different locks, sequential consistency must move ownership).
// Each acquire, of a lock chosen at random (seeded by rank), checks that the record's stamp equals
// its counter (both written in every critical section, so seeing one without the other is a lost
// or torn update), increments the counter and the rank's tally and adds (rank + 1) to a random
// slot; one acquire in eight takes two locks at once (std::scoped_lock, in any order: it uses
// try_lock) and updates both records. Every B acquires of a rank (default 250) all ranks meet at a
// barrier and every rank checks that the counters sum exactly to the acquires made so far. At the
// end every rank checks every counter, tally and slot against the sums of what each rank did
// (gathered with MPI, outside the global space), and that dsm::stats().protocol_bytes and the
// resident set (VmRSS) stayed under their bounds at every barrier (defaults 3 MiB and 96 MiB).
//
// Objects: K objects (default 0; --soak: 100,000) are made and destroyed along the way, in equal
// batches at the barriers: every rank increments each object of a batch under a write handle, then,
// after a barrier, reads it back exactly, and the batch is destroyed. What a rank keeps of locks
// (dsm::stats().lock_records) must stay within what L locks need (2 L + 4) at every barrier, and the
// memory must be flat: the resident set at the end may exceed the one at half-way by at most
// --flat-bound (default 8 MiB), however long the run.
//
// Prints one line per run on rank 0: model, ranks, acquires, seconds, acquires per second, peak
// protocol bytes and peak RSS growth over all ranks. Exit status 0 iff every check held on every
// rank. No gtest: the acquire count is an argument.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <mutex>
#include <shared_mutex>
#include <random>
#include <string>
#include <vector>

#include "dsm/dsm.hpp"

namespace {

constexpr int kMaxRanks = 16;
constexpr int kSlots = 14;
// One lock's data: 2 + 16 + 14 = 32 words = 256 bytes, 16 records per 4 KiB unit.
struct record {
  std::uint64_t count;
  std::uint64_t stamp;
  std::uint64_t tally[kMaxRanks];
  std::uint64_t slot[kSlots];
};
static_assert(sizeof(record) == 256);


std::uint64_t rss_bytes() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  if (f == nullptr) return 0;
  char line[256];
  std::uint64_t kb = 0;
  while (std::fgets(line, sizeof line, f) != nullptr) {
    if (std::strncmp(line, "VmRSS:", 6) == 0) {
      kb = std::strtoull(line + 6, nullptr, 10);
      break;
    }
  }
  std::fclose(f);
  return kb * 1024;
}

int failures = 0;
void check(bool ok, const std::string& what) {
  if (ok) return;
  if (++failures <= 10) std::fprintf(stderr, "lock_stress: rank %d: %s\n", dsm::rank(), what.c_str());
}

std::uint64_t sum_all(std::uint64_t v) {
  std::uint64_t out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  return out;
}
std::uint64_t max_all(std::uint64_t v) {
  std::uint64_t out = 0;
  MPI_Allreduce(&v, &out, 1, MPI_UINT64_T, MPI_MAX, MPI_COMM_WORLD);
  return out;
}

long option(int argc, char** argv, const char* name, long fallback) {
  const std::size_t n = std::strlen(name);
  for (int i = 1; i < argc; ++i)
    if (std::strncmp(argv[i], name, n) == 0 && argv[i][n] == '=') return std::strtol(argv[i] + n + 1, nullptr, 10);
  return fallback;
}
bool flag(int argc, char** argv, const char* name) {
  for (int i = 1; i < argc; ++i)
    if (std::strcmp(argv[i], name) == 0) return true;
  return false;
}

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const int me = dsm::rank(), n = dsm::ranks();
  if (n > kMaxRanks) {
    if (me == 0) std::fprintf(stderr, "lock_stress: at most %d ranks\n", kMaxRanks);
    return 2;
  }
  long fallback = flag(argc, argv, "--soak") ? 1000000 : 100000;
  if (const char* env = std::getenv("DSM_STRESS_OPS")) fallback = std::strtol(env, nullptr, 10);
  const long total_ops = option(argc, argv, "--ops", fallback);
  const int locks = static_cast<int>(option(argc, argv, "--locks", 64));
  const long barrier_every = option(argc, argv, "--barrier-every", 250);
  // Bounds, checked at every barrier on every rank: the twins, diffs and write notices the protocol
  // keeps (dsm::stats().protocol_bytes; lazy release collects them past DSM_GC_BYTES, which the
  // tests set to 1M), and the growth of the resident set over its size after set-up.
  const std::uint64_t protocol_bound = static_cast<std::uint64_t>(option(argc, argv, "--protocol-bound", 3L << 20));
  const std::uint64_t rss_bound = static_cast<std::uint64_t>(option(argc, argv, "--rss-bound", 96L << 20));
  const std::uint64_t flat_bound = static_cast<std::uint64_t>(option(argc, argv, "--flat-bound", 8L << 20));
  const long objects = option(argc, argv, "--objects", flag(argc, argv, "--soak") ? 100000 : 0);
  if (total_ops < n || locks < 2 || barrier_every < 1 || objects < 0) {
    if (me == 0) std::fprintf(stderr, "lock_stress: need --ops >= ranks, --locks >= 2, --barrier-every >= 1, --objects >= 0\n");
    return 2;
  }
  const long my_ops = total_ops / n + (me < total_ops % n ? 1 : 0);
  // Every rank makes the same number of barrier calls: the most acquires any rank makes.
  const long max_ops = total_ops / n + (total_ops % n != 0 ? 1 : 0);
  const long phases = (max_ops + barrier_every - 1) / barrier_every;
  const long batch = (objects + phases - 1) / phases;  // objects made at each barrier

  record* data = dsm::alloc<record>(static_cast<std::size_t>(locks));
  // Each record is bound to its lock (entry consistency moves it with the lock; the other models
  // ignore the binding), and read under that lock at the barriers and at the end.
  for (int l = 0; l < locks; ++l) dsm::mutex{static_cast<std::uint64_t>(l)}.bind(&data[l], sizeof(record));
  auto read_record = [&](int l) {
    dsm::mutex m{static_cast<std::uint64_t>(l)};
    std::shared_lock<dsm::mutex> g(m);
    return data[l];
  };
  std::vector<std::uint64_t> acquired(static_cast<std::size_t>(locks), 0);  // by this rank, per lock
  std::vector<std::uint64_t> added(static_cast<std::size_t>(locks) * kSlots, 0);  // to each slot
  std::mt19937_64 rng(0x5eed0000u + static_cast<unsigned>(me));
  std::uniform_int_distribution<int> pick_lock(0, locks - 1);
  std::uniform_int_distribution<int> pick_slot(0, kSlots - 1);

  auto update = [&](int l) {
    record& r = data[l];
    check(r.stamp == r.count, "lock " + std::to_string(l) + ": stamp " + std::to_string(r.stamp) + " but counter " +
                                  std::to_string(r.count) + " (a torn or lost update)");
    r.count += 1;
    r.stamp = r.count;
    r.tally[me] += 1;
    const int s = pick_slot(rng);
    r.slot[s] += static_cast<std::uint64_t>(me + 1);
    acquired[static_cast<std::size_t>(l)] += 1;
    added[static_cast<std::size_t>(l) * kSlots + static_cast<std::size_t>(s)] += static_cast<std::uint64_t>(me + 1);
  };

  dsm::barrier();
  const std::uint64_t rss0 = rss_bytes();
  std::uint64_t peak_protocol = 0, peak_rss_growth = 0, peak_records = 0, rss_half = 0;
  std::uint64_t done = 0;  // acquires by this rank
  long barriers = 0, made = 0;
  const std::uint64_t records_bound = 2 * static_cast<std::uint64_t>(locks) + 4;
  // A batch of objects: made, incremented by every rank, read back exactly, destroyed.
  auto objects_batch = [&] {
    const long count = std::min(batch, objects - made);
    std::vector<dsm::object<std::uint64_t>> batch_objects;
    for (long i = 0; i < count; ++i) batch_objects.push_back(dsm::make_object<std::uint64_t>(static_cast<std::uint64_t>(made + i)));
    for (auto& o : batch_objects) *o.write() += 1;
    dsm::barrier();
    for (long i = 0; i < count; ++i) {
      const std::uint64_t v = *batch_objects[static_cast<std::size_t>(i)].read();
      check(v == static_cast<std::uint64_t>(made + i + n),
            "object " + std::to_string(made + i) + " reads " + std::to_string(v) + ", expected " + std::to_string(made + i + n));
    }
    for (auto& o : batch_objects) dsm::destroy(o);
    made += count;
  };
  const auto start = std::chrono::steady_clock::now();
  auto meet = [&] {
    dsm::barrier();
    ++barriers;
    // Every counter is final for this phase: their sum is every rank's acquires so far.
    std::uint64_t sum = 0;
    for (int l = 0; l < locks; ++l) sum += read_record(l).count;
    const std::uint64_t expected = sum_all(done);
    check(sum == expected, "after barrier " + std::to_string(barriers) + " the counters sum to " + std::to_string(sum) +
                               ", expected " + std::to_string(expected));
    dsm::barrier();  // nobody writes again until every rank has read
    if (made < objects) objects_batch();
    const dsm::statistics st = dsm::stats();
    peak_protocol = std::max(peak_protocol, st.protocol_bytes);
    peak_records = std::max(peak_records, st.lock_records);
    const std::uint64_t rss = rss_bytes();
    peak_rss_growth = std::max(peak_rss_growth, rss > rss0 ? rss - rss0 : 0);
    if (barriers == phases / 2) rss_half = rss;
  };

  for (long step = 0; step < max_ops;) {
    // One phase: barrier_every steps (a pair of locks is two steps, never split across phases), then
    // a barrier; so every rank makes the same number of barrier calls.
    const long phase_end = std::min(max_ops, step + barrier_every);
    for (; step < phase_end; ++step) {
      if (static_cast<long>(done) >= my_ops) continue;  // this rank is finished; it still meets the others
      const int a = pick_lock(rng);
      if (rng() % 8 == 0 && static_cast<long>(done) + 2 <= my_ops && step + 2 <= phase_end) {
        int b = pick_lock(rng);
        if (b == a) b = (a + 1) % locks;
        dsm::mutex ma{static_cast<std::uint64_t>(a)}, mb{static_cast<std::uint64_t>(b)};
        std::scoped_lock both(ma, mb);
        update(a);
        update(b);
        done += 2;
        ++step;  // two acquires
      } else {
        dsm::mutex m{static_cast<std::uint64_t>(a)};
        std::lock_guard<dsm::mutex> g(m);
        update(a);
        done += 1;
      }
    }
    meet();
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const std::uint64_t rss_end = rss_bytes();
  const std::uint64_t second_half = rss_half != 0 && rss_end > rss_half ? rss_end - rss_half : 0;

  // Exact final contents: every counter, tally and slot against what the ranks did.
  std::vector<std::uint64_t> tallies(static_cast<std::size_t>(locks) * static_cast<std::size_t>(n), 0);
  MPI_Allgather(acquired.data(), locks, MPI_UINT64_T, tallies.data(), locks, MPI_UINT64_T, MPI_COMM_WORLD);
  std::vector<std::uint64_t> slots(added.size(), 0);
  MPI_Allreduce(added.data(), slots.data(), static_cast<int>(added.size()), MPI_UINT64_T, MPI_SUM, MPI_COMM_WORLD);
  std::uint64_t grand = 0;
  for (int l = 0; l < locks; ++l) {
    const record r = read_record(l);
    std::uint64_t count = 0;
    for (int q = 0; q < n; ++q) {
      const std::uint64_t t = tallies[static_cast<std::size_t>(q) * static_cast<std::size_t>(locks) + static_cast<std::size_t>(l)];
      count += t;
      check(r.tally[q] == t, "lock " + std::to_string(l) + ": rank " + std::to_string(q) + "'s tally reads " +
                                 std::to_string(r.tally[q]) + ", it acquired " + std::to_string(t) + " times");
    }
    check(r.count == count && r.stamp == count, "lock " + std::to_string(l) + ": counter " + std::to_string(r.count) +
                                                    ", stamp " + std::to_string(r.stamp) + ", expected " + std::to_string(count));
    for (int s = 0; s < kSlots; ++s) {
      const std::uint64_t want = slots[static_cast<std::size_t>(l) * kSlots + static_cast<std::size_t>(s)];
      check(r.slot[s] == want, "lock " + std::to_string(l) + " slot " + std::to_string(s) + ": " +
                                   std::to_string(r.slot[s]) + ", expected " + std::to_string(want));
    }
    grand += count;
  }
  check(grand == static_cast<std::uint64_t>(total_ops),
        "acquires accounted " + std::to_string(grand) + " of " + std::to_string(total_ops));
  peak_protocol = max_all(peak_protocol);
  peak_rss_growth = max_all(peak_rss_growth);
  check(peak_protocol <= protocol_bound, "protocol memory reached " + std::to_string(peak_protocol) + " bytes (bound " +
                                                  std::to_string(protocol_bound) + ")");
  check(peak_rss_growth <= rss_bound, "resident set grew by " + std::to_string(peak_rss_growth) + " bytes (bound " +
                                                std::to_string(rss_bound) + ")");
  check(made == objects, std::to_string(made) + " objects made and destroyed, of " + std::to_string(objects));
  check(peak_records <= records_bound, "lock records reached " + std::to_string(peak_records) + " (bound " +
                                           std::to_string(records_bound) + " for " + std::to_string(locks) + " locks)");
  check(second_half <= flat_bound, "the resident set grew by " + std::to_string(second_half) +
                                       " bytes in the second half of the run (bound " + std::to_string(flat_bound) + ")");
  const std::uint64_t growth_late = max_all(second_half);
  const std::uint64_t waiting_peak = max_all(dsm::stats().waiting_peak);
  peak_records = max_all(peak_records);
  const std::uint64_t failed = sum_all(static_cast<std::uint64_t>(failures));
  if (me == 0) {
    std::printf("lock_stress: model %s, %d ranks, %ld acquires over %d locks, %ld objects, %ld barriers: %.2f s, "
                "%.0f acquires/s, peak protocol bytes %llu, peak lock records %llu, peak RSS growth %llu KiB, "
                "second-half RSS growth %llu KiB, peak messages waiting for ring space %llu: %s\n",
                dsm::model_name(dsm::current_model()), n, total_ops, locks, objects, barriers, seconds, total_ops / seconds,
                static_cast<unsigned long long>(peak_protocol), static_cast<unsigned long long>(peak_records),
                static_cast<unsigned long long>(peak_rss_growth >> 10), static_cast<unsigned long long>(growth_late >> 10),
                static_cast<unsigned long long>(waiting_peak), failed == 0 ? "OK" : "FAIL");
  }
  dsm::barrier();
  dsm::free(data);
  return failed == 0 ? 0 : 1;
}
