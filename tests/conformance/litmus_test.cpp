// litmus_test.cpp: the litmus programs of tools/litmus/litmus.json as GoogleTest cases, run on the DSM
// by the interpreter dsm-litmus uses (tools/litmus/runner.hpp) and judged by its oracle for the
// model in force: every outcome observed must be allowed, and every warm-up read after the reset and
// a barrier must be 0. One line per program below; the program itself is the text of litmus.json.
//
// Built twice: conformance_litmus runs every location on a unit of its own; with LITMUS_OBJECTS,
// conformance_object_litmus runs the lock-protected programs with every location an object, each
// critical section opening handles on what it touches. The cases are named collective.<name>, so
// that `--gtest_filter=collective.MP_lock` picks one.
//
// Rounds: DSM_LITMUS_ROUNDS, else the table's. Programs with more processes than ranks are skipped.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <cstdlib>
#include <map>
#include <set>
#include <string>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"
#include "oracle.hpp"
#include "program.hpp"
#include "runner.hpp"

namespace {

// SB, MP+lock and SB+locks: 10,000 rounds at 2 ranks and 20,000 / ranks above.
constexpr int kClassic = -1;

struct litmus_case {
  const char* name;  // the gtest case: collective.<name>
  const char* id;    // the program's id in litmus.json
  int rounds;        // or kClassic
};

#ifndef LITMUS_OBJECTS
constexpr litmus::granularity kGranularity = litmus::granularity::units;
const litmus_case kPrograms[] = {
    {"SB", "SB", kClassic},  // racy: (0,0) forbidden under sequential only
    {"MP_lock", "MP+lock", kClassic},
    {"SB_locks", "SB+locks", kClassic},
    {"MP_locks_2", "MP+locks-2", 2000},
    {"LB_locks", "LB+locks", 2000},
    {"IRIW_locks", "IRIW+locks", 2000},
    {"WRC_locks", "WRC+locks", 2000},
    {"W2p2_lock", "2+2W+lock", 2000},
    {"ISA2_locks", "ISA2+locks", 2000},
};
#else
constexpr litmus::granularity kGranularity = litmus::granularity::objects;
const litmus_case kPrograms[] = {
    {"MP_lock", "MP+lock", 300},
    {"SB_locks", "SB+locks", 300},
    {"W2p2_lock", "2+2W+lock", 300},
    {"IRIW_locks", "IRIW+locks", 300},
};
#endif

int rounds_of(const litmus_case& c) {
  if (const char* env = std::getenv("DSM_LITMUS_ROUNDS")) {
    const long n = std::strtol(env, nullptr, 10);
    if (n > 0) return static_cast<int>(n);
  }
  if (c.rounds != kClassic) return c.rounds;
  return dsm::ranks() <= 2 ? 10000 : 20000 / dsm::ranks();
}

// litmus.json, parsed once.
const litmus::json::value& litmus_file() {
  static const litmus::json::value file = litmus::json::parse_file(DSM_LITMUS_SOURCE_JSON);
  return file;
}

litmus::program program_named(const std::string& id) {
  for (const auto& test : litmus::json::at(litmus_file(), "tests"))
    if (litmus::json::at(test, "id").get<std::string>() == id) return litmus::load_program(test);
  throw std::runtime_error("no program " + id + " in " DSM_LITMUS_SOURCE_JSON);
}

class litmus_program : public dsm_test::collective {
 public:
  litmus_program(const litmus_case& c, std::uint64_t lock_base) : case_(c), lock_base_(lock_base) {}

  void TestBody() override {
    const litmus::program p = program_named(case_.id);
    if (static_cast<int>(p.procs.size()) > dsm::ranks())
      GTEST_SKIP() << p.id << " needs " << p.procs.size() << " ranks";
    if (dsm::ranks() < 2) GTEST_SKIP() << "a litmus test needs two ranks";
    const int rounds = rounds_of(case_);
    const litmus::run_result result = litmus::run(p, rounds, 1, lock_base_, kGranularity);

    // Rank 0 judges; every rank records the verdict.
    long forbidden = 0, observed = 0;
    std::string text;
    if (dsm::rank() == 0) {
      const auto model = litmus::oracle::parse_model(dsm::model_name(dsm::current_model()));
      ASSERT_TRUE(model.has_value());
      const std::set<litmus::outcome> allowed = litmus::oracle::allowed(p, *model);
      std::map<litmus::outcome, long> shown = result.histogram;
      for (const auto& o : allowed) shown.try_emplace(o, 0);  // every allowed outcome, even if unseen
      for (const auto& [o, n] : shown) {
        const bool ok = allowed.count(o) != 0;
        observed += n;
        if (!ok) forbidden += n;
        text += " " + litmus::show(o) + "=" + std::to_string(n) + (ok ? "" : "[forbidden]");
      }
      std::printf("[litmus %s] model %s, %d ranks, %d rounds:%s\n", p.id.c_str(), dsm::model_name(dsm::current_model()),
                  dsm::ranks(), rounds, text.c_str());
      std::fflush(stdout);
      RecordProperty("outcomes", text);
    }
    MPI_Bcast(&forbidden, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    MPI_Bcast(&observed, 1, MPI_LONG, 0, MPI_COMM_WORLD);
    EXPECT_EQ(result.stale_warmups, 0) << "warm-up reads after the reset and a barrier were not 0";
    EXPECT_GT(observed, 0) << "no outcome was recorded";
    EXPECT_EQ(forbidden, 0) << p.id << " under " << dsm::model_name(dsm::current_model()) << ":"
                            << (dsm::rank() == 0 ? text : std::string(" (rank 0 prints the outcomes)"));
  }

 private:
  litmus_case case_;
  std::uint64_t lock_base_;
};

// Each program its own locks: entry consistency binds them.
const bool registered = [] {
  std::uint64_t lock_base = 500;
  for (const litmus_case& c : kPrograms) {
    ::testing::RegisterTest("collective", c.name, nullptr, nullptr, __FILE__, __LINE__,
                            [c, lock_base]() -> dsm_test::collective* { return new litmus_program(c, lock_base); });
    lock_base += 64;
  }
  return true;
}();

}  // namespace
