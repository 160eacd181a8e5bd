// litmus_test.cpp: litmus tests from /work/shared/litmus/litmus.json, run on the DSM and judged per
// consistency model. Each test runs many rounds; every shared variable lives on its own unit; each
// round resets the variables, makes every rank read them (warm-up, so stale copies exist where a
// model allows them), runs the litmus program with a small random delay per rank, and records the
// outcome. Every outcome observed must be in the test's allowed set for dsm::current_model():
//   SB (Dekker, racy): (r0, r1) = (0, 0) is forbidden under sequential, allowed under the others;
//   MP+lock and SB+locks (data-race free): their forbidden outcomes are forbidden under every model.
// Ranks beyond the two litmus threads act as extra readers (MP+lock) or as noise that reads the
// variables during the round (SB, SB+locks). Rounds: DSM_LITMUS_ROUNDS, else 10,000 at 2 ranks and
// 20,000 / ranks() above. Needs at least 2 ranks; skipped at 1.
#include <gtest/gtest.h>
#include <mpi.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <string>
#include <utility>
#include <vector>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

// An outcome of two 0/1 registers, encoded r0 * 2 + r1; kInvalid for a value that is neither.
constexpr int kOutcomes = 4;
constexpr int kInvalid = kOutcomes;
constexpr int kNoOutcome = -1;  // ranks that observe nothing in a round

int encode(long r0, long r1) {
  if ((r0 != 0 && r0 != 1) || (r1 != 0 && r1 != 1)) return kInvalid;
  return static_cast<int>(r0 * 2 + r1);
}

const char* outcome_name(int o) {
  static const char* const kNames[] = {"(0,0)", "(0,1)", "(1,0)", "(1,1)", "(invalid)"};
  return kNames[o];
}

// allowed[model][outcome], the model index being the dsm::model enumerator (SC, ERC, LRC, EC), as
// in litmus.json's allowed_outcomes.
using allowed_table = std::array<std::array<bool, kOutcomes>, 4>;

// SB: SC {(0,1),(1,0),(1,1)}; ERC, LRC, EC: all four.
constexpr allowed_table kSB = {{{false, true, true, true},
                                {true, true, true, true},
                                {true, true, true, true},
                                {true, true, true, true}}};
// MP+lock: every model {(0,0),(1,1)}.
constexpr allowed_table kMPLock = {{{true, false, false, true},
                                    {true, false, false, true},
                                    {true, false, false, true},
                                    {true, false, false, true}}};
// SB+locks: every model {(0,1),(1,0),(1,1)}.
constexpr allowed_table kSBLocks = {{{false, true, true, true},
                                     {false, true, true, true},
                                     {false, true, true, true},
                                     {false, true, true, true}}};

int rounds_for_this_run() {
  if (const char* env = std::getenv("DSM_LITMUS_ROUNDS")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n > 0) return static_cast<int>(n);
  }
  return dsm::ranks() <= 2 ? 10000 : 20000 / dsm::ranks();
}

// `count` longs, each at the start of its own unit, inside one collective allocation.
class unit_vars {
 public:
  explicit unit_vars(int count) : count_(count) {
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

 private:
  int count_;
  char* block_;
  char* base_;
};

// A per-rank random busy wait of up to ~tens of microseconds, so the two litmus threads start
// their accesses at varying offsets.
class jitter {
 public:
  explicit jitter(int rank) : state_(0x9E3779B97F4A7C15ull * static_cast<std::uint64_t>(rank + 1)) {}
  void operator()() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    const std::uint64_t spins = state_ % 20000;
    for (std::uint64_t i = 0; i < spins; ++i) sink_ = sink_ + 1;
  }

 private:
  std::uint64_t state_;
  volatile std::uint64_t sink_ = 0;
};

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
// Two threads, one register each (SB, SB+locks): the outcome is (r0 of rank 0, r0 of rank 1).
void split_registers(const all_registers& regs, int round, std::vector<int>& out) {
  out.push_back(encode(regs.at(0, round).r0, regs.at(1, round).r0));
}
// One writer, readers with two registers each (MP+lock): one outcome per reader.
void per_reader(const all_registers& regs, int round, std::vector<int>& out) {
  for (int r = 0; r < dsm::ranks(); ++r) {
    const registers g = regs.at(r, round);
    if (g.r0 != kNone) out.push_back(encode(g.r0, g.r1));
  }
}

// The round structure every litmus test shares: reset (by rank 0), barrier, warm-up reads by every
// rank (which must see the reset values, ordered by the barrier), barrier, the litmus program
// `body(round)` returning this rank's registers, barrier. Then the registers of all ranks are
// gathered (over MPI, outside the global space), turned into outcomes, and judged against
// `allowed` for the current model. Collective.
template <class Body, class Outcomes>
void run_rounds(const char* id, const allowed_table& allowed, unit_vars& vars, Body body, Outcomes outcomes) {
  const int rounds = rounds_for_this_run();
  std::vector<long> mine;
  mine.reserve(static_cast<std::size_t>(rounds) * 2);
  long stale_warmups = 0;
  for (int round = 0; round < rounds; ++round) {
    if (dsm::rank() == 0) {
      for (int i = 0; i < vars.count(); ++i) store(vars[i], 0);
    }
    dsm::barrier();
    for (int i = 0; i < vars.count(); ++i) stale_warmups += load(vars[i]) != 0;
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
  std::array<long, kOutcomes + 1> histogram{};
  std::vector<int> round_outcomes;
  for (int round = 0; round < rounds; ++round) {
    round_outcomes.clear();
    outcomes(regs, round, round_outcomes);
    for (int o : round_outcomes) ++histogram[static_cast<std::size_t>(o)];
  }

  const auto model_index = static_cast<std::size_t>(dsm::current_model());
  std::string text;
  long forbidden = 0;
  long observed = 0;
  for (int o = 0; o <= kOutcomes; ++o) {
    const long n = histogram[static_cast<std::size_t>(o)];
    observed += n;
    const bool ok = o < kOutcomes && allowed[model_index][static_cast<std::size_t>(o)];
    if (!ok) forbidden += n;
    if (n != 0 || o < kOutcomes)
      text += std::string(" ") + outcome_name(o) + "=" + std::to_string(n) + (ok ? "" : "[forbidden]");
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
  jitter delay(dsm::rank());
  run_rounds(
      "SB", kSB, vars,
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
  jitter delay(dsm::rank());
  run_rounds(
      "MP+lock", kMPLock, vars,
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
  jitter delay(dsm::rank());
  run_rounds(
      "SB+locks", kSBLocks, vars,
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

}  // namespace
