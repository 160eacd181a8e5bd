// litmus_test.cpp: litmus tests from tools/litmus/litmus.json (the public litmus set), run on the
// DSM and judged per consistency model. Each test runs many rounds; every shared variable lives on
// its own unit; each round resets the variables, makes every rank read them (warm-up, so stale
// copies exist where a model allows them), runs the litmus program with a small random delay per
// rank, and records the outcome. Every outcome observed must be in the test's allowed set for
// dsm::current_model():
//   SB (Dekker, racy): (r0, r1) = (0, 0) is forbidden under sequential, allowed under the others;
//   MP+lock, SB+locks, MP+locks-2, LB+locks, IRIW+locks, WRC+locks, 2+2W+lock and ISA2+locks
//   (properly labelled, data-race free): their forbidden outcomes are forbidden under every model.
// Ranks beyond a test's litmus threads act as extra readers (MP+lock, MP+locks-2) or as noise that
// reads the variables during the round. Rounds: DSM_LITMUS_ROUNDS, else for SB, MP+lock and
// SB+locks 10,000 at 2 ranks and 20,000 / ranks() above, for the others 2,000. Needs at least 2
// ranks (IRIW+locks 4, WRC+locks and ISA2+locks 3); skipped below.
#include <gtest/gtest.h>
#include <mpi.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <mutex>
#include <shared_mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "dsm/dsm.hpp"
#include "jitter.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

// An outcome is a tuple of small register / final values (0, 1 or 2), in the order of the test's
// "observed" list in litmus.json, encoded base 3; kInvalid for a tuple with any other value.
constexpr int kInvalid = -1;
constexpr long kMaxValue = 2;

using outcome = std::vector<long>;

int encode(const outcome& values) {
  int code = 0;
  for (long v : values) {
    if (v < 0 || v > kMaxValue) return kInvalid;
    code = code * static_cast<int>(kMaxValue + 1) + static_cast<int>(v);
  }
  return code;
}

std::string outcome_name(int code, int arity) {
  if (code == kInvalid) return "(invalid)";
  std::string digits;
  for (int i = 0; i < arity; ++i) {
    digits.insert(0, std::to_string(code % (kMaxValue + 1)));
    code /= static_cast<int>(kMaxValue + 1);
    if (i + 1 < arity) digits.insert(0, ",");
  }
  return "(" + digits + ")";
}

// A litmus test's identity and, per model (indexed by the dsm::model enumerator: SC, ERC, LRC, EC,
// as in litmus.json's allowed_outcomes), its allowed outcomes.
struct litmus_spec {
  const char* id;
  int arity;
  std::array<std::vector<outcome>, 4> allowed;
};

// A properly-labelled test: the same (SC) allowed set under every model.
litmus_spec everywhere(const char* id, int arity, const std::vector<outcome>& sc) {
  return litmus_spec{id, arity, {sc, sc, sc, sc}};
}

// SB: SC {(0,1),(1,0),(1,1)}; ERC, LRC, EC: all four.
const litmus_spec kSB{"SB", 2,
                      {std::vector<outcome>{{0, 1}, {1, 0}, {1, 1}},
                       std::vector<outcome>{{0, 0}, {0, 1}, {1, 0}, {1, 1}},
                       std::vector<outcome>{{0, 0}, {0, 1}, {1, 0}, {1, 1}},
                       std::vector<outcome>{{0, 0}, {0, 1}, {1, 0}, {1, 1}}}};
// MP+lock: every model {(0,0),(1,1)}.
const litmus_spec kMPLock = everywhere("MP+lock", 2, {{0, 0}, {1, 1}});
// SB+locks: every model {(0,1),(1,0),(1,1)}.
const litmus_spec kSBLocks = everywhere("SB+locks", 2, {{0, 1}, {1, 0}, {1, 1}});
// MP+locks-2: every model {(0,0),(0,1),(1,1)}; (1,0) forbidden.
const litmus_spec kMPLocks2 = everywhere("MP+locks-2", 2, {{0, 0}, {0, 1}, {1, 1}});
// LB+locks: every model {(0,0),(0,1),(1,0)}; (1,1) forbidden.
const litmus_spec kLBLocks = everywhere("LB+locks", 2, {{0, 0}, {0, 1}, {1, 0}});
// IRIW+locks: every model all sixteen (1:r0, 1:r1, 3:r0, 3:r1) but (1,0,1,0).
const litmus_spec kIRIWLocks = everywhere("IRIW+locks", 4,
                                          {{0, 0, 0, 0}, {0, 0, 0, 1}, {0, 0, 1, 0}, {0, 0, 1, 1},
                                           {0, 1, 0, 0}, {0, 1, 0, 1}, {0, 1, 1, 0}, {0, 1, 1, 1},
                                           {1, 0, 0, 0}, {1, 0, 0, 1}, {1, 0, 1, 1}, {1, 1, 0, 0},
                                           {1, 1, 0, 1}, {1, 1, 1, 0}, {1, 1, 1, 1}});
// WRC+locks: every model (1:r0, 2:r0, 2:r1) in all eight but (1,1,0).
const litmus_spec kWRCLocks = everywhere(
    "WRC+locks", 3, {{0, 0, 0}, {0, 0, 1}, {0, 1, 0}, {0, 1, 1}, {1, 0, 0}, {1, 0, 1}, {1, 1, 1}});
// 2+2W+lock: every model final (x, y) in {(1,2),(2,1)}; (1,1) and (2,2) forbidden.
const litmus_spec k2p2WLock = everywhere("2+2W+lock", 2, {{1, 2}, {2, 1}});
// ISA2+locks: every model (1:r0, 2:r2, 2:r1) in {(0,0,0),(0,1,0),(0,1,1),(1,0,0),(1,0,1),(1,1,1)};
// (0,0,1) and (1,1,0) forbidden.
const litmus_spec kISA2Locks =
    everywhere("ISA2+locks", 3, {{0, 0, 0}, {0, 1, 0}, {0, 1, 1}, {1, 0, 0}, {1, 0, 1}, {1, 1, 1}});

// Rounds: DSM_LITMUS_ROUNDS if set, else `fallback`.
int rounds_for_this_run(int fallback) {
  if (const char* env = std::getenv("DSM_LITMUS_ROUNDS")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n > 0) return static_cast<int>(n);
  }
  return fallback;
}
// SB, MP+lock, SB+locks: 10,000 rounds at 2 ranks and 20,000 / ranks() above.
int classic_rounds() { return dsm::ranks() <= 2 ? 10000 : 20000 / dsm::ranks(); }
// The other properly-labelled tests (more lock traffic per round): 2,000 rounds.
constexpr int kPLRounds = 2000;

// `count` longs, each at the start of its own unit, inside one collective allocation.
class unit_vars {
 public:
  explicit unit_vars(int count) : count_(count), guards_(static_cast<std::size_t>(count), nullptr) {
    const std::size_t unit = dsm::unit_size();
    block_ = dsm::alloc<char>(static_cast<std::size_t>(count + 1) * unit);
    const std::uintptr_t at = reinterpret_cast<std::uintptr_t>(block_);
    base_ = reinterpret_cast<char*>((at + unit - 1) / unit * unit);
  }
  ~unit_vars() { dsm::free(block_); }
  unit_vars(const unit_vars&) = delete;
  unit_vars& operator=(const unit_vars&) = delete;

  long& operator[](int i) const {
    return *reinterpret_cast<long*>(base_ + static_cast<std::size_t>(i) * dsm::unit_size());
  }
  int count() const { return count_; }

  // Collective: variable i is guarded by lock m. It is bound to m (entry consistency moves it only
  // with m; the other models ignore the binding), and the harness resets and warms it under m.
  void guard(int i, dsm::mutex& m) {
    m.bind(&(*this)[i], sizeof(long));
    guards_[static_cast<std::size_t>(i)] = &m;
  }
  dsm::mutex* guard_of(int i) const { return guards_[static_cast<std::size_t>(i)]; }

 private:
  int count_;
  std::vector<dsm::mutex*> guards_;
  char* block_;
  char* base_;
};

// A per-rank random busy wait of up to ~tens of microseconds, so the two litmus threads start
// their accesses at varying offsets.
litmus::jitter make_jitter(int rank) { return litmus::jitter(0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(rank + 1)); }

long load(long& v) { return std::atomic_ref<long>(v).load(std::memory_order_seq_cst); }
void store(long& v, long value) { std::atomic_ref<long>(v).store(value, std::memory_order_seq_cst); }

// The registers one rank read in one round; kNone where it read nothing.
constexpr long kNone = -1;
struct registers {
  long r0 = kNone;
  long r1 = kNone;
};

// Every rank's registers of every round: at(rank, round).
class all_registers {
 public:
  all_registers(std::vector<long> flat, int rounds) : flat_(std::move(flat)), rounds_(rounds) {}
  registers at(int rank, int round) const {
    const std::size_t i = (static_cast<std::size_t>(rank) * static_cast<std::size_t>(rounds_) +
                           static_cast<std::size_t>(round)) *
                          2;
    return registers{flat_[i], flat_[i + 1]};
  }

 private:
  std::vector<long> flat_;
  int rounds_;
};

// How a test turns one round's registers into outcomes.
// Two threads, one register each (SB, SB+locks, LB+locks): the outcome is (r0 of rank 0, r0 of rank 1).
void split_registers(const all_registers& regs, int round, std::vector<int>& out) {
  out.push_back(encode({regs.at(0, round).r0, regs.at(1, round).r0}));
}
// One writer, readers with two registers each (MP+lock, MP+locks-2): one outcome per reader.
void per_reader(const all_registers& regs, int round, std::vector<int>& out) {
  for (int r = 0; r < dsm::ranks(); ++r) {
    const registers g = regs.at(r, round);
    if (g.r0 != kNone) out.push_back(encode({g.r0, g.r1}));
  }
}
// Rank 0's two registers (2+2W+lock: the final values of x and y).
void rank0_registers(const all_registers& regs, int round, std::vector<int>& out) {
  const registers g = regs.at(0, round);
  out.push_back(encode({g.r0, g.r1}));
}
// (1:r0, 2:r0, 2:r1) (WRC+locks, ISA2+locks).
void rank1_r0_rank2_both(const all_registers& regs, int round, std::vector<int>& out) {
  out.push_back(encode({regs.at(1, round).r0, regs.at(2, round).r0, regs.at(2, round).r1}));
}
// (1:r0, 1:r1, 3:r0, 3:r1) (IRIW+locks).
void ranks1_and_3(const all_registers& regs, int round, std::vector<int>& out) {
  const registers a = regs.at(1, round);
  const registers b = regs.at(3, round);
  out.push_back(encode({a.r0, a.r1, b.r0, b.r1}));
}

// The round structure every litmus test shares: reset (by rank 0), barrier, warm-up reads by every
// rank (which must see the reset values, ordered by the barrier), barrier, the litmus program
// `body(round)` returning this rank's registers, barrier. Then the registers of all ranks are
// gathered (over MPI, outside the global space), turned into outcomes, and judged against the
// spec's allowed set for the current model. Collective.
template <class Body, class Outcomes>
void run_rounds(const litmus_spec& spec, int default_rounds, unit_vars& vars, Body body, Outcomes outcomes) {
  const char* const id = spec.id;
  const int rounds = rounds_for_this_run(default_rounds);
  std::vector<long> mine;
  mine.reserve(static_cast<std::size_t>(rounds) * 2);
  long stale_warmups = 0;
  for (int round = 0; round < rounds; ++round) {
    if (dsm::rank() == 0) {
      for (int i = 0; i < vars.count(); ++i) {
        if (dsm::mutex* m = vars.guard_of(i)) {
          std::lock_guard g(*m);
          store(vars[i], 0);
        } else {
          store(vars[i], 0);
        }
      }
    }
    dsm::barrier();
    for (int i = 0; i < vars.count(); ++i) {
      if (dsm::mutex* m = vars.guard_of(i)) {
        std::shared_lock g(*m);
        stale_warmups += load(vars[i]) != 0;
      } else {
        stale_warmups += load(vars[i]) != 0;
      }
    }
    dsm::barrier();
    const registers got = body(round);
    mine.push_back(got.r0);
    mine.push_back(got.r1);
    dsm::barrier();
  }

  std::vector<long> flat(mine.size() * static_cast<std::size_t>(dsm::ranks()));
  MPI_Allgather(mine.data(), static_cast<int>(mine.size()), MPI_LONG, flat.data(),
                static_cast<int>(mine.size()), MPI_LONG, MPI_COMM_WORLD);
  const all_registers regs(std::move(flat), rounds);
  std::map<int, long> histogram;
  std::vector<int> round_outcomes;
  for (int round = 0; round < rounds; ++round) {
    round_outcomes.clear();
    outcomes(regs, round, round_outcomes);
    for (int o : round_outcomes) ++histogram[o];
  }

  const auto model_index = static_cast<std::size_t>(dsm::current_model());
  std::set<int> allowed;
  for (const outcome& o : spec.allowed[model_index]) allowed.insert(encode(o));
  for (int o : allowed) histogram.try_emplace(o, 0);  // list every allowed outcome, even if unseen
  std::string text;
  long forbidden = 0;
  long observed = 0;
  for (const auto& [o, n] : histogram) {
    observed += n;
    const bool ok = o != kInvalid && allowed.count(o) != 0;
    if (!ok) forbidden += n;
    text += " " + outcome_name(o, spec.arity) + "=" + std::to_string(n) + (ok ? "" : "[forbidden]");
  }
  if (dsm::rank() == 0) {
    std::printf("[litmus %s] model %s, %d ranks, %d rounds:%s\n", id, dsm::model_name(dsm::current_model()),
                dsm::ranks(), rounds, text.c_str());
    std::fflush(stdout);
  }
  ::testing::Test::RecordProperty("outcomes", text);
  DSM_EXPECT_ALL(stale_warmups == 0) << stale_warmups
                                     << " warm-up reads after the reset and a barrier were not 0";
  // Every rank computed the same histogram from the same gathered registers: one verdict everywhere.
  EXPECT_GT(observed, 0) << "no outcome was recorded";
  EXPECT_EQ(forbidden, 0) << id << " under " << dsm::model_name(dsm::current_model()) << ":" << text;
}

// SB (store buffering, Dekker), racy: P0: x = 1; r0 = y.  P1: y = 1; r0 = x.
// The seq_cst accesses keep the compiler and the CPU's own store buffer from reordering the store
// and the load, so a (0,0) can only come from the DSM.
TEST_F(collective, SB) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "a litmus test needs two ranks";
  unit_vars vars(2);
  long& x = vars[0];
  long& y = vars[1];
  litmus::jitter delay = make_jitter(dsm::rank());
  run_rounds(
      kSB, classic_rounds(), vars,
      [&](int) {
        registers got;
        delay();
        if (dsm::rank() == 0) {
          store(x, 1);
          got.r0 = load(y);
        } else if (dsm::rank() == 1) {
          store(y, 1);
          got.r0 = load(x);
        } else {
          volatile long noise = load(x) + load(y);  // a reader whose copies the writers must deal with
          (void)noise;
        }
        return got;
      },
      split_registers);
}

// MP+lock, data-race free: P0: lock L; data = 1; flag = 1; unlock L.
// Readers: lock L; r0 = flag; r1 = data; unlock L.  (1,0) and (0,1) are forbidden everywhere.
TEST_F(collective, MP_lock) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "a litmus test needs two ranks";
  unit_vars vars(2);
  long& data = vars[0];
  long& flag = vars[1];
  dsm::mutex lock{500};
  vars.guard(0, lock);
  vars.guard(1, lock);
  litmus::jitter delay = make_jitter(dsm::rank());
  run_rounds(
      kMPLock, classic_rounds(), vars,
      [&](int) {
        registers got;
        delay();
        std::lock_guard guard(lock);
        if (dsm::rank() == 0) {
          data = 1;
          flag = 1;
        } else {
          got.r0 = flag;
          got.r1 = data;
        }
        return got;
      },
      per_reader);
}

// SB+locks, data-race free: P0: lock Lx; x = 1; unlock Lx; lock Ly; r0 = y; unlock Ly.
// P1: lock Ly; y = 1; unlock Ly; lock Lx; r0 = x; unlock Lx.  (0,0) is forbidden everywhere.
TEST_F(collective, SB_locks) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "a litmus test needs two ranks";
  unit_vars vars(2);
  long& x = vars[0];
  long& y = vars[1];
  dsm::mutex lx{501};
  dsm::mutex ly{502};
  vars.guard(0, lx);
  vars.guard(1, ly);
  litmus::jitter delay = make_jitter(dsm::rank());
  run_rounds(
      kSBLocks, classic_rounds(), vars,
      [&](int) {
        registers got;
        delay();
        if (dsm::rank() == 0) {
          {
            std::lock_guard g(lx);
            x = 1;
          }
          {
            std::lock_guard g(ly);
            got.r0 = y;
          }
        } else if (dsm::rank() == 1) {
          {
            std::lock_guard g(ly);
            y = 1;
          }
          {
            std::lock_guard g(lx);
            got.r0 = x;
          }
        } else {
          long noise = 0;
          {
            std::lock_guard g(lx);
            noise += x;
          }
          {
            std::lock_guard g(ly);
            noise += y;
          }
          volatile long sink = noise;
          (void)sink;
        }
        return got;
      },
      split_registers);
}

// A rank beyond a test's litmus threads: reads every variable, each under its lock, as noise.
void noise_reads(const std::vector<std::pair<dsm::mutex*, long*>>& guarded) {
  long noise = 0;
  for (const auto& [m, v] : guarded) {
    std::lock_guard g(*m);
    noise += *v;
  }
  volatile long sink = noise;
  (void)sink;
}

// MP+locks-2, data-race free: P0: lock Ld; data = 1; unlock Ld; lock Lf; flag = 1; unlock Lf.
// Readers: lock Lf; r0 = flag; unlock Lf; lock Ld; r1 = data; unlock Ld.  (1,0) is forbidden
// everywhere.
TEST_F(collective, MP_locks_2) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "a litmus test needs two ranks";
  unit_vars vars(2);
  long& data = vars[0];
  long& flag = vars[1];
  dsm::mutex ld{503};
  dsm::mutex lf{504};
  vars.guard(0, ld);
  vars.guard(1, lf);
  litmus::jitter delay = make_jitter(dsm::rank());
  run_rounds(
      kMPLocks2, kPLRounds, vars,
      [&](int) {
        registers got;
        delay();
        if (dsm::rank() == 0) {
          {
            std::lock_guard g(ld);
            data = 1;
          }
          {
            std::lock_guard g(lf);
            flag = 1;
          }
        } else {
          {
            std::lock_guard g(lf);
            got.r0 = flag;
          }
          {
            std::lock_guard g(ld);
            got.r1 = data;
          }
        }
        return got;
      },
      per_reader);
}

// LB+locks, data-race free: P0: lock Lx; r0 = x; unlock Lx; lock Ly; y = 1; unlock Ly.
// P1: lock Ly; r0 = y; unlock Ly; lock Lx; x = 1; unlock Lx.  (1,1) is forbidden everywhere.
TEST_F(collective, LB_locks) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "a litmus test needs two ranks";
  unit_vars vars(2);
  long& x = vars[0];
  long& y = vars[1];
  dsm::mutex lx{505};
  dsm::mutex ly{506};
  vars.guard(0, lx);
  vars.guard(1, ly);
  litmus::jitter delay = make_jitter(dsm::rank());
  run_rounds(
      kLBLocks, kPLRounds, vars,
      [&](int) {
        registers got;
        delay();
        if (dsm::rank() == 0) {
          {
            std::lock_guard g(lx);
            got.r0 = x;
          }
          {
            std::lock_guard g(ly);
            y = 1;
          }
        } else if (dsm::rank() == 1) {
          {
            std::lock_guard g(ly);
            got.r0 = y;
          }
          {
            std::lock_guard g(lx);
            x = 1;
          }
        } else {
          noise_reads({{&lx, &x}, {&ly, &y}});
        }
        return got;
      },
      split_registers);
}

// IRIW+locks, data-race free: P0: lock Lx; x = 1; unlock Lx.
// P1: lock Lx; r0 = x; unlock Lx; lock Ly; r1 = y; unlock Ly.  P2: lock Ly; y = 1; unlock Ly.
// P3: lock Ly; r0 = y; unlock Ly; lock Lx; r1 = x; unlock Lx.
// (1:r0, 1:r1, 3:r0, 3:r1) = (1,0,1,0) is forbidden everywhere. Needs four ranks.
TEST_F(collective, IRIW_locks) {
  if (dsm::ranks() < 4) GTEST_SKIP() << "IRIW needs four ranks";
  unit_vars vars(2);
  long& x = vars[0];
  long& y = vars[1];
  dsm::mutex lx{507};
  dsm::mutex ly{508};
  vars.guard(0, lx);
  vars.guard(1, ly);
  litmus::jitter delay = make_jitter(dsm::rank());
  run_rounds(
      kIRIWLocks, kPLRounds, vars,
      [&](int) {
        registers got;
        delay();
        if (dsm::rank() == 0) {
          std::lock_guard g(lx);
          x = 1;
        } else if (dsm::rank() == 1) {
          {
            std::lock_guard g(lx);
            got.r0 = x;
          }
          {
            std::lock_guard g(ly);
            got.r1 = y;
          }
        } else if (dsm::rank() == 2) {
          std::lock_guard g(ly);
          y = 1;
        } else if (dsm::rank() == 3) {
          {
            std::lock_guard g(ly);
            got.r0 = y;
          }
          {
            std::lock_guard g(lx);
            got.r1 = x;
          }
        } else {
          noise_reads({{&lx, &x}, {&ly, &y}});
        }
        return got;
      },
      ranks1_and_3);
}

// WRC+locks, data-race free: P0: lock Lx; x = 1; unlock Lx.
// P1: lock Lx; r0 = x; unlock Lx; lock Ly; y = 1; unlock Ly.
// P2: lock Ly; r0 = y; unlock Ly; lock Lx; r1 = x; unlock Lx.
// (1:r0, 2:r0, 2:r1) = (1,1,0) is forbidden everywhere. Needs three ranks.
TEST_F(collective, WRC_locks) {
  if (dsm::ranks() < 3) GTEST_SKIP() << "WRC needs three ranks";
  unit_vars vars(2);
  long& x = vars[0];
  long& y = vars[1];
  dsm::mutex lx{509};
  dsm::mutex ly{510};
  vars.guard(0, lx);
  vars.guard(1, ly);
  litmus::jitter delay = make_jitter(dsm::rank());
  run_rounds(
      kWRCLocks, kPLRounds, vars,
      [&](int) {
        registers got;
        delay();
        if (dsm::rank() == 0) {
          std::lock_guard g(lx);
          x = 1;
        } else if (dsm::rank() == 1) {
          {
            std::lock_guard g(lx);
            got.r0 = x;
          }
          {
            std::lock_guard g(ly);
            y = 1;
          }
        } else if (dsm::rank() == 2) {
          {
            std::lock_guard g(ly);
            got.r0 = y;
          }
          {
            std::lock_guard g(lx);
            got.r1 = x;
          }
        } else {
          noise_reads({{&lx, &x}, {&ly, &y}});
        }
        return got;
      },
      rank1_r0_rank2_both);
}

// 2+2W+lock, data-race free: P0: lock L; x = 1; y = 2; unlock L.  P1: lock L; y = 1; x = 2; unlock L.
// The final (x, y), read by rank 0 after a barrier: (1,1) and (2,2) are forbidden everywhere.
TEST_F(collective, W2p2_lock) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "a litmus test needs two ranks";
  unit_vars vars(2);
  long& x = vars[0];
  long& y = vars[1];
  dsm::mutex lock{511};
  vars.guard(0, lock);
  vars.guard(1, lock);
  litmus::jitter delay = make_jitter(dsm::rank());
  run_rounds(
      k2p2WLock, kPLRounds, vars,
      [&](int) {
        registers got;
        delay();
        if (dsm::rank() == 0) {
          std::lock_guard g(lock);
          x = 1;
          y = 2;
        } else if (dsm::rank() == 1) {
          std::lock_guard g(lock);
          y = 1;
          x = 2;
        } else {
          noise_reads({{&lock, &x}, {&lock, &y}});
        }
        dsm::barrier();
        if (dsm::rank() == 0) {
          std::lock_guard g(lock);  // the final values, read under the lock that guards them
          got.r0 = load(x);
          got.r1 = load(y);
        }
        return got;
      },
      rank0_registers);
}

// ISA2+locks, data-race free: P0: lock L; x = 1; y = 1; unlock L.  P1: lock L; r0 = y; z = 1; unlock L.
// P2: lock L; r2 = z; r1 = x; unlock L.  (1:r0, 2:r2, 2:r1) = (0,0,1) and (1,1,0) are forbidden
// everywhere. Needs three ranks.
TEST_F(collective, ISA2_locks) {
  if (dsm::ranks() < 3) GTEST_SKIP() << "ISA2 needs three ranks";
  unit_vars vars(3);
  long& x = vars[0];
  long& y = vars[1];
  long& z = vars[2];
  dsm::mutex lock{512};
  vars.guard(0, lock);
  vars.guard(1, lock);
  vars.guard(2, lock);
  litmus::jitter delay = make_jitter(dsm::rank());
  run_rounds(
      kISA2Locks, kPLRounds, vars,
      [&](int) {
        registers got;
        delay();
        std::lock_guard g(lock);
        if (dsm::rank() == 0) {
          x = 1;
          y = 1;
        } else if (dsm::rank() == 1) {
          got.r0 = y;
          z = 1;
        } else if (dsm::rank() == 2) {
          got.r0 = z;  // r2
          got.r1 = x;  // r1
        } else {
          volatile long noise = x + y + z;
          (void)noise;
        }
        return got;
      },
      rank1_r0_rank2_both);
}

}  // namespace
