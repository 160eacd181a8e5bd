// oracle.hpp: an executable definition of each data-centric consistency model of the course, over
// the litmus language of program.hpp, and the exhaustive enumeration of the outcomes each allows.
// dsm-litmus marks what it observes with these verdicts (and prints them with --oracle, --explain,
// --dot); tests/unit/litmus_oracle_test.cpp checks them against published results. No MPI, no
// runtime; the functions are pure and may be called from any thread.
//
// The definitions are axiomatic, in the style of herd's .cat files: a candidate execution chooses,
// for every read, the write it reads from (rf), for every lock, the order of its critical sections
// (so, from each release to the acquires that follow it), and, where the model has one, for every
// location the order of its writes (co); the model then says which candidates are consistent. An
// outcome is allowed if some consistent candidate produces it. The models and the sources they
// follow are listed in docs/models.md ("The oracle") and at each definition in oracle.cpp.
//
//   litmus::program p = litmus::load_program(test);
//   for (const litmus::outcome& o : litmus::oracle::allowed(p, litmus::oracle::model::sequential)) ...
#ifndef DSM_TOOLS_LITMUS_ORACLE_HPP_
#define DSM_TOOLS_LITMUS_ORACLE_HPP_

#include <optional>
#include <set>
#include <string>
#include <vector>

#include "program.hpp"

namespace litmus::oracle {

enum class model { strict, sequential, causal, pram, weak, eager_release, lazy_release, entry };

// Every model, strongest first.
const std::vector<model>& all_models();
// The name a user types (--model=), the same as DSM_MODEL's for the four the runtime implements:
// strict, sequential, causal, pram, weak, eager-release, lazy-release, entry.
const char* name(model m);
// The key of the model's allowed_outcomes in litmus.json (SC, ERC, LRC, EC for the runtime's four).
const char* key(model m);
// The model named by a name or a key; nullopt if none.
std::optional<model> parse_model(const std::string& s);
// One sentence: the definition followed and its source.
const char* definition(model m);

// One event of a candidate execution.
struct event {
  enum class kind { init, write, read, acquire, release, barrier } k;
  int proc = -1;  // -1 for the initial writes and barriers (every process), procs.size() for the final reads
  int loc = -1;
  long val = 0;   // a write's value; a read's, once rf is chosen
  std::string text;  // "P0: data = 1", "P1: r0 = flag", "init: x = 0", "barrier 1", "final: x"
};

// An edge of a relation: from -> to, named po, so, rf, co, fr, hb, ...
struct edge {
  int from = -1;
  int to = -1;
  std::string kind;
};

// A candidate execution and, if the model rules it out, why.
struct execution {
  std::vector<event> events;
  outcome result;
  std::vector<edge> rf;     // the reads-from edges
  std::vector<edge> cycle;  // empty if consistent; else a cycle of the relation the axiom forbids
  std::string axiom;        // the axiom broken, as written in oracle.cpp
};

// Every outcome of p that model m allows. Throws usage_error if p is too large (64 events).
std::set<outcome> allowed(const program& p, model m);

// Why outcome o is allowed or forbidden: `allowed` with one consistent execution producing it, or
// every candidate execution producing it (one per choice of rf and lock order), each with its cycle.
// `candidates` counts every candidate with that outcome (rf, so and co choices).
struct explanation {
  bool allowed = false;
  std::vector<execution> executions;
  long candidates = 0;
};
explanation explain(const program& p, model m, const outcome& o);

// The cycle of one execution as text, one edge a line, indented by `indent`.
std::string show_cycle(const execution& x, const std::string& indent);

// A Graphviz digraph of one execution: a cluster per process in program order, its reads-from
// edges, and the cycle in red.
std::string dot(const program& p, const execution& x, model m);

}  // namespace litmus::oracle

#endif  // DSM_TOOLS_LITMUS_ORACLE_HPP_
