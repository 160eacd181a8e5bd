// litmus_oracle_test: the oracle of tools/litmus/oracle.hpp, without MPI. Sequential consistency
// against the published results for the classic programs; the relaxed models against the
// textbook's examples that tell them apart; litmus.json's hand-written lists against the oracle
// (the cross-check: a failure names the program and the model); and the enumeration's speed.
#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <sstream>

#include "oracle.hpp"
#include "program.hpp"

namespace {

using litmus::outcome;
using litmus::oracle::model;
using outcomes = std::set<outcome>;

// A program written compactly: processes separated by '|', operations by ';', an operation's words
// by spaces, as in litmus.json's threads_ops ("W x 1", "R y r0", "L l", "S l", "U l", "B").
struct test_program {
  litmus::json::value doc;
  litmus::program p;
  test_program(const std::string& id, const std::string& ops, const std::vector<std::string>& observed,
               const std::string& binding = "{}") {
    std::string json = "{\"id\": \"" + id + "\", \"threads_ops\": [[";
    std::istringstream in(ops);
    std::string word;
    bool first_op = true, open_op = false;
    auto close_op = [&] {
      if (open_op) json += "]";
      open_op = false;
    };
    while (in >> word) {
      if (word == "|" || word == ";") {
        close_op();
        if (word == "|") json += "], [", first_op = true;
        continue;
      }
      if (!open_op) {
        json += std::string(first_op ? "" : ", ") + "[\"" + word + "\"";
        first_op = false;
        open_op = true;
        continue;
      }
      const bool number = word.find_first_not_of("-0123456789") == std::string::npos;
      json += ", " + (number ? word : "\"" + word + "\"");
    }
    close_op();
    json += "]], \"observed\": [";
    for (std::size_t i = 0; i < observed.size(); ++i) json += (i ? ", \"" : "\"") + observed[i] + "\"";
    json += "], \"ec_binding\": " + binding + "}";
    doc = litmus::json::parse(json);
    p = litmus::load_program(doc);
  }
  test_program(const test_program&) = delete;
};

outcomes allowed(const test_program& t, model m) { return litmus::oracle::allowed(t.p, m); }

// Every outcome over `width` binary registers but those listed.
outcomes all_but(int width, const outcomes& forbidden) {
  outcomes out;
  for (int v = 0; v < (1 << width); ++v) {
    outcome o;
    for (int b = width - 1; b >= 0; --b) o.push_back((v >> b) & 1);
    if (!forbidden.count(o)) out.insert(o);
  }
  return out;
}

// The classic programs (herdtools7's catalogue names); SC forbids exactly the outcome listed.
TEST(sequential, published_results) {
  const test_program sb("SB", "W x 1 ; R y r0 | W y 1 ; R x r0", {"0:r0", "1:r0"});
  EXPECT_EQ(allowed(sb, model::sequential), all_but(2, {{0, 0}}));
  const test_program mp("MP", "W data 1 ; W flag 1 | R flag r0 ; R data r1", {"1:r0", "1:r1"});
  EXPECT_EQ(allowed(mp, model::sequential), all_but(2, {{1, 0}}));
  const test_program lb("LB", "R x r0 ; W y 1 | R y r0 ; W x 1", {"0:r0", "1:r0"});
  EXPECT_EQ(allowed(lb, model::sequential), all_but(2, {{1, 1}}));
  const test_program iriw("IRIW", "W x 1 | R x r0 ; R y r1 | W y 1 | R y r0 ; R x r1", {"1:r0", "1:r1", "3:r0", "3:r1"});
  EXPECT_EQ(allowed(iriw, model::sequential), all_but(4, {{1, 0, 1, 0}}));
  const test_program wrc("WRC", "W x 1 | R x r0 ; W y 1 | R y r0 ; R x r1", {"1:r0", "2:r0", "2:r1"});
  EXPECT_EQ(allowed(wrc, model::sequential), all_but(3, {{1, 1, 0}}));
  const test_program isa2("ISA2", "W x 1 ; W y 1 | R y r0 ; W z 1 | R z r0 ; R x r1", {"1:r0", "2:r0", "2:r1"});
  EXPECT_EQ(allowed(isa2, model::sequential), all_but(3, {{1, 1, 0}}));
  const test_program w22("2+2W", "W x 1 ; W y 2 | W y 1 ; W x 2", {"final:x", "final:y"});
  EXPECT_EQ(allowed(w22, model::sequential), (outcomes{{1, 2}, {2, 1}, {2, 2}}));
  for (const test_program* t : {&sb, &mp, &lb, &iriw, &wrc, &isa2, &w22})
    EXPECT_EQ(allowed(*t, model::strict), allowed(*t, model::sequential)) << t->p.id;
}

// What each weaker model adds, on the programs the course uses to tell them apart.
TEST(relaxed, classic_programs) {
  const test_program mp("MP", "W data 1 ; W flag 1 | R flag r0 ; R data r1", {"1:r0", "1:r1"});
  for (model m : {model::causal, model::pram}) EXPECT_FALSE(allowed(mp, m).count({1, 0})) << name(m);
  for (model m : {model::weak, model::eager_release, model::lazy_release, model::entry})
    EXPECT_TRUE(allowed(mp, m).count({1, 0})) << name(m);

  // WRC: PRAM lets P2 see y = 1 before x = 1; causality forbids it.
  const test_program wrc("WRC", "W x 1 | R x r0 ; W y 1 | R y r0 ; R x r1", {"1:r0", "2:r0", "2:r1"});
  EXPECT_TRUE(allowed(wrc, model::pram).count({1, 1, 0}));
  EXPECT_FALSE(allowed(wrc, model::causal).count({1, 1, 0}));

  // IRIW: concurrent writes may be seen in different orders under causal memory.
  const test_program iriw("IRIW", "W x 1 | R x r0 ; R y r1 | W y 1 | R y r0 ; R x r1", {"1:r0", "1:r1", "3:r0", "3:r1"});
  EXPECT_TRUE(allowed(iriw, model::causal).count({1, 0, 1, 0}));

  // SB: no model weaker than sequential keeps a write ahead of a later read of another location.
  const test_program sb("SB", "W x 1 ; R y r0 | W y 1 ; R x r0", {"0:r0", "1:r0"});
  for (model m : {model::causal, model::pram, model::weak, model::eager_release, model::lazy_release, model::entry})
    EXPECT_EQ(allowed(sb, m), all_but(2, {})) << name(m);

  // Two writers of one location: causal memory lets two readers see them in opposite orders;
  // the models with one coherence order do not; lazy release keeps no coherence for racy reads.
  const test_program co("CoRR2", "W x 1 | W x 2 | R x r0 ; R x r1 | R x r2 ; R x r3", {"2:r0", "2:r1", "3:r2", "3:r3"});
  for (model m : {model::causal, model::pram, model::lazy_release}) EXPECT_TRUE(allowed(co, m).count({1, 2, 2, 1})) << name(m);
  for (model m : {model::sequential, model::weak, model::eager_release}) EXPECT_FALSE(allowed(co, m).count({1, 2, 2, 1})) << name(m);
}

TEST(relaxed, synchronisation_separates_weak_release_and_entry) {
  // An empty critical section is a full fence under weak ordering, not under release consistency.
  const test_program sb("SB+cs", "W x 1 ; L m ; U m ; R y r0 | W y 1 ; L n ; U n ; R x r0", {"0:r0", "1:r0"});
  EXPECT_FALSE(allowed(sb, model::weak).count({0, 0}));
  EXPECT_TRUE(allowed(sb, model::eager_release).count({0, 0}));

  // Eager release makes a released write visible to every process; lazy release only to the next
  // acquirers of the lock, and P1 never acquires a.
  const test_program lazy("MP+rel", "L a ; W x 1 ; U a ; L b ; W y 1 ; U b | L c ; R y r0 ; U c ; L c ; R x r1 ; U c",
                          {"1:r0", "1:r1"});
  EXPECT_FALSE(allowed(lazy, model::eager_release).count({1, 0}));
  EXPECT_TRUE(allowed(lazy, model::lazy_release).count({1, 0}));

  // Entry: the lock carries flag, bound to it, and not data.
  const test_program polocks("MP+polocks", "W data 1 ; L l ; W flag 1 ; U l | L l ; R flag r0 ; U l ; R data r1",
                             {"1:r0", "1:r1"}, R"({"l": ["flag"]})");
  EXPECT_FALSE(allowed(polocks, model::lazy_release).count({1, 0}));
  EXPECT_TRUE(allowed(polocks, model::entry).count({1, 0}));

  // Coherence of racy reads: eager release keeps it, lazy release does not promise it.
  const test_program corr("CoRR", "W x 1 | R x r0 ; R x r1", {"1:r0", "1:r1"});
  EXPECT_FALSE(allowed(corr, model::eager_release).count({1, 0}));
  EXPECT_TRUE(allowed(corr, model::lazy_release).count({1, 0}));
}

TEST(relaxed, barriers_and_shared_acquires) {
  const test_program mp("MP+barrier", "W x 1 ; B | B ; R x r0", {"1:r0"});
  for (model m : litmus::oracle::all_models()) EXPECT_EQ(allowed(mp, m), (outcomes{{1}})) << name(m);
  // Readers in shared mode see the writer's bound data if they come after it, and may both come
  // before it; one reader cannot come both before and after.
  const test_program shared("Shared", "L l ; W x 1 ; U l | S l ; R x r0 ; U l | S l ; R x r1 ; U l", {"1:r0", "2:r1"},
                            R"({"l": ["x"]})");
  for (model m : litmus::oracle::all_models()) EXPECT_EQ(allowed(shared, m), all_but(2, {})) << name(m);
  const test_program reread("Shared2", "L l ; W x 1 ; U l | S l ; R x r0 ; R x r1 ; U l", {"1:r0", "1:r1"},
                            R"({"l": ["x"]})");
  for (model m : litmus::oracle::all_models()) EXPECT_EQ(allowed(reread, m), (outcomes{{0, 0}, {1, 1}})) << name(m);
}

TEST(explain, a_forbidden_outcome_has_a_cycle) {
  const test_program mp("MP", "W data 1 ; W flag 1 | R flag r0 ; R data r1", {"1:r0", "1:r1"});
  const auto ex = litmus::oracle::explain(mp.p, model::sequential, {1, 0});
  ASSERT_FALSE(ex.allowed);
  ASSERT_EQ(ex.executions.size(), 1u);  // one choice of rf gives (1,0)
  const auto& cycle = ex.executions[0].cycle;
  ASSERT_FALSE(cycle.empty());
  EXPECT_EQ(cycle.front().from, cycle.back().to);
  std::set<std::string> kinds;
  for (std::size_t i = 0; i < cycle.size(); ++i) {
    kinds.insert(cycle[i].kind);
    if (i > 0) {
      EXPECT_EQ(cycle[i - 1].to, cycle[i].from);
    }
  }
  EXPECT_EQ(kinds, (std::set<std::string>{"po", "rf", "fr"}));
  const std::string text = litmus::oracle::show_cycle(ex.executions[0], "  ");
  EXPECT_NE(text.find("--rf-->  P1: r0 = flag  (reads 1)"), std::string::npos) << text;
  const std::string dot = litmus::oracle::dot(mp.p, ex.executions[0], model::sequential);
  EXPECT_NE(dot.find("digraph"), std::string::npos);
  EXPECT_NE(dot.find("color=red"), std::string::npos);

  // The lock's order takes part when release consistency rules the outcome out.
  const test_program polocks("MP+polocks", "W data 1 ; L l ; W flag 1 ; U l | L l ; R flag r0 ; U l ; R data r1",
                             {"1:r0", "1:r1"});
  const auto ex2 = litmus::oracle::explain(polocks.p, model::eager_release, {1, 0});
  ASSERT_FALSE(ex2.allowed);
  bool so = false;
  for (const auto& x : ex2.executions)
    for (const auto& e : x.cycle) so = so || e.kind == "so";
  EXPECT_TRUE(so);
  const auto ex3 = litmus::oracle::explain(polocks.p, model::lazy_release, {1, 0});
  ASSERT_FALSE(ex3.allowed);
  ASSERT_FALSE(ex3.executions.empty());
  EXPECT_FALSE(ex3.executions[0].cycle.empty());
  EXPECT_TRUE(litmus::oracle::explain(polocks.p, model::lazy_release, {1, 1}).allowed);
}

struct litmus_file {
  litmus::json::value doc;
  std::vector<litmus::program> programs;
  explicit litmus_file(const char* path = DSM_LITMUS_JSON) {
    doc = litmus::json::parse_file(path);
    for (const auto& t : litmus::json::at(doc, "tests")) programs.push_back(litmus::load_program(t));
  }
};

// The cross-check: litmus.json's hand-written lists are the oracle's sets.
TEST(litmus_json, hand_written_lists_agree_with_the_oracle) {
  const litmus_file f;
  ASSERT_FALSE(f.programs.empty());
  for (const auto& p : f.programs)
    for (model m : litmus::oracle::all_models()) {
      const auto listed = litmus::listed_outcomes(p, litmus::oracle::key(m));
      if (!listed) continue;
      const outcomes hand(listed->begin(), listed->end());
      const outcomes oracle = litmus::oracle::allowed(p, m);
      std::string only_hand, only_oracle;
      for (const auto& o : hand)
        if (!oracle.count(o)) only_hand.append(" ").append(litmus::show(o));
      for (const auto& o : oracle)
        if (!hand.count(o)) only_oracle.append(" ").append(litmus::show(o));
      EXPECT_EQ(hand, oracle) << "litmus.json disagrees with the oracle on " << p.id << " under " << name(m)
                              << ": listed but forbidden:" << only_hand << "; allowed but not listed:" << only_oracle;
    }
}

// models.json: each program's outcome of interest is allowed by the first model of each pair it
// separates and forbidden by the second.
TEST(models_json, each_program_separates_its_pair) {
  const litmus_file f(DSM_MODELS_JSON);
  ASSERT_FALSE(f.programs.empty());
  for (const auto& p : f.programs) {
    outcome interest;
    for (const auto& n : litmus::json::at(*p.raw, "outcome_of_interest")) interest.push_back(n.get<long>());
    ASSERT_FALSE(litmus::json::at(*p.raw, "separates").empty()) << p.id;
    for (const auto& pair : litmus::json::at(*p.raw, "separates")) {
      ASSERT_EQ(pair.size(), 2u) << p.id;
      const auto allows = litmus::oracle::parse_model(pair[0].get<std::string>()), forbids = litmus::oracle::parse_model(pair[1].get<std::string>());
      ASSERT_TRUE(allows && forbids) << p.id;
      EXPECT_TRUE(litmus::oracle::allowed(p, *allows).count(interest)) << p.id << " under " << name(*allows);
      EXPECT_FALSE(litmus::oracle::allowed(p, *forbids).count(interest)) << p.id << " under " << name(*forbids);
    }
  }
}

// Each model allows at least what a stronger one does: sequential within causal within PRAM, and
// sequential within weak within eager release within lazy release within entry.
TEST(litmus_json, models_are_ordered_by_strength) {
  const litmus_file a, b(DSM_MODELS_JSON);
  const std::vector<std::pair<model, model>> weaker{
      {model::sequential, model::causal},       {model::causal, model::pram},
      {model::sequential, model::weak},         {model::weak, model::eager_release},
      {model::eager_release, model::lazy_release}, {model::lazy_release, model::entry}};
  for (const auto* f : {&a, &b})
    for (const auto& p : f->programs)
      for (const auto& [strong, weak] : weaker) {
        const outcomes s = litmus::oracle::allowed(p, strong), w = litmus::oracle::allowed(p, weak);
        EXPECT_TRUE(std::includes(w.begin(), w.end(), s.begin(), s.end())) << p.id << ": " << name(strong) << " allows more than " << name(weak);
      }
}

// A data-race-free (PL) program has the same outcomes under every model.
TEST(litmus_json, properly_labelled_programs_are_sequential_everywhere) {
  const litmus_file f;
  for (const auto& p : f.programs) {
    if (p.cls != "PL") continue;
    const outcomes sc = litmus::oracle::allowed(p, model::sequential);
    for (model m : litmus::oracle::all_models()) EXPECT_EQ(litmus::oracle::allowed(p, m), sc) << p.id << " under " << name(m);
  }
}

// allowed() skips, given the lock order, the reads-from choices no model permits; explain() tries
// every candidate. They must agree on every outcome of every program.
TEST(litmus_json, pruned_enumeration_agrees_with_the_full_one) {
  const litmus_file f;
  for (const auto& p : f.programs) {
    if (p.candidates.empty()) continue;
    for (model m : litmus::oracle::all_models()) {
      const outcomes fast = litmus::oracle::allowed(p, m);
      for (const auto& o : p.candidates)
        EXPECT_EQ(litmus::oracle::explain(p, m, o).allowed, fast.count(o) == 1) << p.id << " " << litmus::show(o) << " under " << name(m);
    }
  }
}

double seconds_for(const litmus::program& p, model m) {
  const auto t0 = std::chrono::steady_clock::now();
  (void)litmus::oracle::allowed(p, m);
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// Under 1 s per program and model, for up to 4 processes and 8 accesses.
TEST(speed, every_program_under_a_second_per_model) {
  const litmus_file f;
  const test_program big("4x8", "W x 1 ; W y 1 | W x 2 ; R y r0 | R x r0 ; R x r1 | R y r0 ; W y 2", {"1:r0", "2:r0", "2:r1", "3:r0", "final:x", "final:y"});
  const test_program locks("4x8+locks", "L l ; W x 1 ; U l ; L l ; W y 1 ; U l | L l ; R y r0 ; U l ; L l ; W x 2 ; U l | "
                           "L l ; R x r0 ; U l ; L l ; R y r1 ; U l | L l ; W y 2 ; U l ; L l ; R x r0 ; U l",
                           {"1:r0", "2:r0", "2:r1", "3:r0"}, R"({"l": ["x", "y"]})");
  std::vector<const litmus::program*> all{&big.p, &locks.p};
  for (const auto& p : f.programs) all.push_back(&p);
  for (const auto* p : all)
    for (model m : litmus::oracle::all_models()) EXPECT_LT(seconds_for(*p, m), 1.0) << p->id << " under " << name(m);
}

}  // namespace
