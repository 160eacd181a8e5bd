// runner.cpp: see runner.hpp.
#include "runner.hpp"

#include <mpi.h>

#include <algorithm>
#include <atomic>
#include <climits>
#include <cstddef>
#include <deque>
#include <memory>
#include <optional>
#include <stdexcept>
#include <vector>

#include "dsm/dsm.hpp"
#include "jitter.hpp"

namespace litmus {
namespace {

long load(const long* v) { return std::atomic_ref<long>(*const_cast<long*>(v)).load(std::memory_order_seq_cst); }
void store(long* v, long x) { std::atomic_ref<long>(*v).store(x, std::memory_order_seq_cst); }

// The state of the generator of each rank's delay, seeded from the run's seed.
std::uint64_t make_jitter_state(std::uint64_t seed) { return seed * 0x9e3779b97f4a7c15ull + 1; }

// True if ranks beyond the program's processes run copies of its last process: it only reads.
bool last_is_a_reader(const program& p) {
  return std::none_of(p.procs.back().begin(), p.procs.back().end(), [](const op& o) { return o.kind == 'W'; });
}

// The process a rank runs in a round: its own, a copy of the last one (a reader), or none (-1: it
// reads every location instead).
int process_of(const program& p, int rank) {
  const int procs = static_cast<int>(p.procs.size());
  if (rank < procs) return rank;
  return last_is_a_reader(p) ? procs - 1 : -1;
}

// The locations of a program, and the runner's own accesses to them (reset, warm-up, final read).
class locations {
 public:
  virtual ~locations() = default;
  virtual void set(int i, long v) = 0;
  virtual long get(int i) = 0;
  // Runs the ops of one process; regs gets its registers.
  virtual void run(const std::vector<op>& ops, std::vector<long>& regs) = 0;
};

// Every location on a unit of its own; locks are dsm::mutex (bound, under entry).
class unit_locations final : public locations {
 public:
  unit_locations(const program& p, std::uint64_t lock_base) : p_(p) {
    const std::size_t unit = dsm::unit_size();
    stride_ = std::max<std::size_t>(unit, sizeof(long));
    space_ = dsm::alloc<std::byte>(stride_ * p.locs.size());
    for (std::size_t l = 0; l < p.locks.size(); ++l) locks_.emplace_back(lock_base + l);
    entry_ = dsm::current_model() == dsm::model::entry;
    if (entry_)
      for (std::size_t i = 0; i < p.locs.size(); ++i)
        if (p.bound_lock[i] >= 0) locks_[static_cast<size_t>(p.bound_lock[i])].bind(at(static_cast<int>(i)), sizeof(long));
  }
  ~unit_locations() override { dsm::free(space_); }
  unit_locations(const unit_locations&) = delete;
  unit_locations& operator=(const unit_locations&) = delete;

  void set(int i, long v) override {
    guarded(i, [&] { store(at(i), v); });
  }
  long get(int i) override {
    long v = 0;
    guarded(i, [&] { v = load(at(i)); });
    return v;
  }
  void run(const std::vector<op>& ops, std::vector<long>& regs) override {
    for (const op& o : ops) {
      switch (o.kind) {
        case 'W': store(at(o.loc), o.val); break;
        case 'R': regs[static_cast<size_t>(o.reg)] = load(at(o.loc)); break;
        case 'L': locks_[static_cast<size_t>(o.lock)].acquire(); break;
        case 'S': locks_[static_cast<size_t>(o.lock)].acquire_shared(); break;
        case 'U':
          if (o.shared) locks_[static_cast<size_t>(o.lock)].release_shared();
          else locks_[static_cast<size_t>(o.lock)].release();
          break;
        case 'B': dsm::barrier(); break;
      }
    }
  }

 private:
  long* at(int i) const { return reinterpret_cast<long*>(space_ + stride_ * static_cast<size_t>(i)); }
  // Under entry, the runner's own access to a bound location goes through its lock.
  template <class Fn>
  void guarded(int i, Fn fn) {
    const int l = entry_ ? p_.bound_lock[static_cast<size_t>(i)] : -1;
    if (l >= 0) locks_[static_cast<size_t>(l)].acquire();
    fn();
    if (l >= 0) locks_[static_cast<size_t>(l)].release();
  }

  const program& p_;
  std::size_t stride_ = 0;
  std::byte* space_ = nullptr;
  std::deque<dsm::mutex> locks_;
  bool entry_ = false;
};

// Every location an object; a critical section opens handles on what it touches.
class object_locations final : public locations {
 public:
  explicit object_locations(const program& p) {
    for (std::size_t i = 0; i < p.locs.size(); ++i) vars_.push_back(dsm::make_object<long>(0L));
  }
  ~object_locations() override {
    for (auto& v : vars_) dsm::destroy(v);
  }
  object_locations(const object_locations&) = delete;
  object_locations& operator=(const object_locations&) = delete;

  void set(int i, long v) override { *vars_[static_cast<size_t>(i)].write() = v; }
  long get(int i) override { return *vars_[static_cast<size_t>(i)].read(); }
  void run(const std::vector<op>& ops, std::vector<long>& regs) override {
    for (std::size_t k = 0; k < ops.size(); ++k) {
      const op& o = ops[k];
      switch (o.kind) {
        case 'L':
        case 'S': k = section(ops, k, regs); break;
        case 'B': dsm::barrier(); break;
        default: throw std::runtime_error("objects: an access outside a critical section");
      }
    }
  }

 private:
  // Runs the critical section that starts at ops[first] with handles on the locations it touches,
  // opened in lock-id order; returns the index of its release.
  std::size_t section(const std::vector<op>& ops, std::size_t first, std::vector<long>& regs) {
    std::size_t end = first + 1;
    std::vector<int> touched(vars_.size(), 0);  // 1 read, 2 written
    for (; end < ops.size() && ops[end].kind != 'U'; ++end) {
      const op& o = ops[end];
      if (o.kind != 'W' && o.kind != 'R') throw std::runtime_error("objects: a critical section inside another, or a barrier inside one");
      int& t = touched[static_cast<size_t>(o.loc)];
      t = std::max(t, o.kind == 'W' ? 2 : 1);
    }
    if (end == ops.size()) throw std::runtime_error("objects: a critical section without its release");
    std::vector<std::size_t> order;
    for (std::size_t i = 0; i < vars_.size(); ++i)
      if (touched[i] != 0) order.push_back(i);
    std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) { return vars_[a].lock_id() < vars_[b].lock_id(); });
    std::vector<const long*> view(vars_.size(), nullptr);
    std::vector<long*> writable(vars_.size(), nullptr);
    std::deque<dsm::read_handle<long>> reads;
    std::deque<dsm::write_handle<long>> writes;
    for (std::size_t i : order) {
      if (touched[i] == 2) {
        writes.push_back(vars_[i].write());
        writable[i] = &*writes.back();
        view[i] = writable[i];
      } else {
        reads.push_back(vars_[i].read());
        view[i] = &*reads.back();
      }
    }
    for (std::size_t k = first + 1; k < end; ++k) {
      const op& o = ops[k];
      if (o.kind == 'W') store(writable[static_cast<size_t>(o.loc)], o.val);
      else regs[static_cast<size_t>(o.reg)] = load(view[static_cast<size_t>(o.loc)]);
    }
    return end;  // the handles close here, in the reverse order of their opening
  }

  std::vector<dsm::object<long>> vars_;
};

}  // namespace

run_result run(const program& p, int rounds, std::uint64_t seed, std::uint64_t lock_base, granularity g) {
  const int me = dsm::rank();
  std::unique_ptr<locations> locs;
  if (g == granularity::objects) locs = std::make_unique<object_locations>(p);
  else locs = std::make_unique<unit_locations>(p, lock_base);
  const int nlocs = static_cast<int>(p.locs.size());
  const std::size_t nobs = p.observed.size();
  const int process = process_of(p, me);
  const int last = static_cast<int>(p.procs.size()) - 1;
  std::vector<long> mine(static_cast<size_t>(rounds) * nobs, LONG_MIN);
  std::vector<long> regs(process >= 0 ? p.regs[static_cast<size_t>(process)].size() : 0);
  const long extra = process >= 0 ? p.delay[static_cast<size_t>(process)] : 0;
  jitter delay(make_jitter_state(seed + static_cast<std::uint64_t>(me)), static_cast<std::uint64_t>(extra));
  long stale = 0;
  volatile long sink = 0;

  for (int round = 0; round < rounds; ++round) {
    if (me == 0)
      for (int i = 0; i < nlocs; ++i) locs->set(i, 0);
    dsm::barrier();
    for (int i = 0; i < nlocs; ++i) stale += locs->get(i) != 0;
    dsm::barrier();
    delay();
    if (process >= 0) {
      std::fill(regs.begin(), regs.end(), 0);
      locs->run(p.procs[static_cast<size_t>(process)], regs);
    } else {
      for (int i = 0; i < nlocs; ++i) sink = sink + locs->get(i);  // a reader the writers must deal with
      for (int b = 0; b < p.barriers; ++b) dsm::barrier();        // the program's barriers are collective
    }
    dsm::barrier();
    for (std::size_t k = 0; k < nobs; ++k) {
      const observation& ob = p.observed[k];
      long& slot = mine[static_cast<size_t>(round) * nobs + k];
      if (ob.final && me == 0) slot = locs->get(ob.loc);
      if (!ob.final && ob.proc == process) slot = regs[static_cast<size_t>(ob.reg)];
    }
  }
  dsm::barrier();
  locs.reset();

  run_result result;
  MPI_Allreduce(&stale, &result.stale_warmups, 1, MPI_LONG, MPI_SUM, MPI_COMM_WORLD);
  const int ranks = dsm::ranks();
  std::vector<long> all(me == 0 ? mine.size() * static_cast<size_t>(ranks) : 0);
  MPI_Gather(mine.data(), static_cast<int>(mine.size()), MPI_LONG, all.data(), static_cast<int>(mine.size()), MPI_LONG, 0,
             MPI_COMM_WORLD);
  if (me != 0) return result;
  const bool copies = last_is_a_reader(p);
  auto slot = [&](int rank, int round, std::size_t k) {
    return all[static_cast<size_t>(rank) * mine.size() + static_cast<size_t>(round) * nobs + k];
  };
  for (int round = 0; round < rounds; ++round) {
    outcome base(nobs);
    for (std::size_t k = 0; k < nobs; ++k) base[k] = slot(p.observed[k].final ? 0 : p.observed[k].proc, round, k);
    ++result.histogram[base];
    // A copy of the last process: the outcome with its registers in that process's place.
    for (int r = last + 1; copies && r < ranks; ++r) {
      outcome o = base;
      for (std::size_t k = 0; k < nobs; ++k)
        if (!p.observed[k].final && p.observed[k].proc == last) o[k] = slot(r, round, k);
      ++result.histogram[o];
    }
  }
  return result;
}

}  // namespace litmus
