// dsm-litmus: runs the litmus programs of a litmus.json on the DSM under the model in force
// (DSM_MODEL) and prints, per program, the histogram of outcomes, each marked allowed or forbidden for
// that model by the oracle (oracle.hpp), then herd-style summary lines: the outcomes allowed and seen,
// allowed and never seen, forbidden and seen. Where the file lists allowed outcomes for the model by
// hand and the list disagrees with the oracle, the row says so. Exits 1 if a forbidden outcome
// appeared, 2 on a usage or file error, 0 otherwise. With --verdicts=file the file's lists decide
// instead, as before the oracle (a program that lists nothing for the model is then an error).
//
//   mpirun -np 2 dsm-litmus --rounds=1000 MP SB        # two programs
//   DSM_MODEL=lazy-release mpirun -np 4 dsm-litmus     # every program that fits in 4 ranks
//   dsm-litmus --list
//   dsm-litmus --oracle --model=all MP                 # the allowed sets, nothing run, no MPI
//   dsm-litmus --oracle --model=sequential --explain --dot=out MP   # why (1,0) is forbidden
//
// The programs are interpreted from their "threads_ops" (program.hpp) by runner.hpp, which the
// litmus gtests share and which describes a round: process Pi runs on rank i, every location on a
// coherence unit of its own. The observed tuple follows "observed": "i:reg" is register reg of Pi,
// "final:loc" the value of loc after the round's last barrier. A warm-up read that is not 0 fails
// the program.
//
// Collective: every rank parses the same file and makes the same calls; the verdict is rank 0's,
// broadcast so that every rank exits with the same status. --oracle, --list and --help run on one
// process without MPI.
#include <mpi.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <deque>
#include <fstream>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "dsm/dsm.hpp"
#include "oracle.hpp"
#include "program.hpp"
#include "runner.hpp"

namespace {

namespace oracle = litmus::oracle;
using litmus::json::value;
using litmus::outcome;
using litmus::program;
using litmus::show;
using litmus::usage_error;

struct options {
  std::string file;                // as given; after parse_options, the files joined by commas
  std::vector<std::string> files;
  int rounds = 1000;
  std::uint64_t seed = 1;
  std::string only_class;
  bool list = false;
  bool oracle_only = false;      // --oracle
  std::string model;             // --model=M|all (with --oracle)
  bool file_verdicts = false;    // --verdicts=file
  bool explain = false;          // --explain
  bool separate = false;         // --separate (with --oracle)
  std::string dot_dir;           // --dot=DIR
  std::optional<outcome> only_outcome;  // --outcome=1,0
  bool help = false;
  std::vector<std::string> wanted;
};

outcome parse_outcome(const std::string& s) {
  outcome o;
  std::string t = s;
  for (char& c : t)
    if (c == '(' || c == ')' || c == ',') c = ' ';
  std::istringstream in(t);
  long v;
  while (in >> v) o.push_back(v);
  if (o.empty() || !in.eof()) throw usage_error("--outcome=" + s + ": expected numbers separated by commas");
  return o;
}

std::string default_file(const char* argv0) {
  // Installed: <prefix>/bin/dsm-litmus reads <prefix>/share/dsm/litmus.json; in the build tree, the
  // project's copy.
  char exe[4096] = {0};
  const ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
  std::string dir = n > 0 ? std::string(exe, static_cast<size_t>(n)) : std::string(argv0);
  dir = dir.substr(0, dir.find_last_of('/') + 1);
  const std::string installed = dir + "../share/dsm/litmus.json";
  if (std::ifstream(installed).good()) return installed;
  return DSM_LITMUS_SOURCE_JSON;
}

options parse_options(int argc, char** argv) {
  options o;
  o.file = default_file(argv[0]);
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&](const char* flag) -> std::optional<std::string> {
      const std::string f = std::string(flag) + "=";
      if (a.rfind(f, 0) == 0) return a.substr(f.size());
      return std::nullopt;
    };
    if (auto v = val("--file")) o.file = *v;
    else if (auto v2 = val("--rounds")) o.rounds = std::atoi(v2->c_str());
    else if (auto v3 = val("--seed")) o.seed = std::strtoull(v3->c_str(), nullptr, 10);
    else if (auto v4 = val("--class")) o.only_class = *v4;
    else if (auto v5 = val("--model")) o.model = *v5;
    else if (auto v6 = val("--verdicts")) {
      if (*v6 != "oracle" && *v6 != "file") throw usage_error("--verdicts=" + *v6 + ": expected oracle or file");
      o.file_verdicts = *v6 == "file";
    } else if (auto v7 = val("--dot")) o.dot_dir = *v7, o.explain = true;
    else if (auto v8 = val("--outcome")) o.only_outcome = parse_outcome(*v8);
    else if (a == "--list") o.list = true;
    else if (a == "--oracle") o.oracle_only = true;
    else if (a == "--explain") o.explain = true;
    else if (a == "--separate") o.separate = true;
    else if (a == "--help" || a == "-h") o.help = true;
    else if (a.rfind("--", 0) == 0) throw usage_error("unknown option " + a + " (see --help)");
    else if (a != "all") o.wanted.push_back(a);
  }
  if (o.rounds <= 0) throw usage_error("--rounds must be at least 1");
  // --file=litmus.json,models.json: several files, read in turn. A bare name not in the working
  // directory is looked for beside the default litmus.json.
  std::string list = o.file;
  o.file.clear();
  for (std::size_t start = 0; start <= list.size();) {
    const std::size_t comma = std::min(list.find(',', start), list.size());
    std::string name = list.substr(start, comma - start);
    start = comma + 1;
    if (name.empty()) continue;
    if (name.find('/') == std::string::npos && !std::ifstream(name).good()) {
      const std::string beside = default_file(argv[0]);
      name = beside.substr(0, beside.find_last_of('/') + 1) + name;
    }
    o.files.push_back(name);
    o.file += (o.file.empty() ? "" : ",") + name;
  }
  if (o.files.empty()) throw usage_error("--file names no file");
  if (!o.model.empty() && !o.oracle_only) throw usage_error("--model goes with --oracle; a run takes its model from DSM_MODEL");
  if (o.separate && !o.oracle_only) throw usage_error("--separate goes with --oracle");
  if (o.file_verdicts && o.explain) throw usage_error("--explain needs the oracle's verdicts, not --verdicts=file");
  return o;
}

// s + separator + x, the separator only between items.
void append(std::string& s, const char* separator, const std::string& x) {
  if (!s.empty()) s += separator;
  s += x;
}

std::string model_names() {
  std::string names;
  for (oracle::model m : oracle::all_models()) append(names, ", ", oracle::name(m));
  return names;
}

void usage() {
  std::printf(
      "usage: mpirun -np N dsm-litmus [--file=litmus.json[,more.json]] [--rounds=N] [--seed=S] [--class=racy|PL|mixed]\n"
      "                              [--verdicts=oracle|file] [--explain] [--dot=DIR] [TEST...|all]\n"
      "       dsm-litmus --oracle [--model=M|all] [--explain] [--outcome=1,0] [--dot=DIR] [TEST...]\n"
      "       dsm-litmus --oracle --separate [TEST...]\n"
      "       dsm-litmus --list\n"
      "Runs litmus programs under the model in DSM_MODEL; prints each histogram, outcomes marked allowed or\n"
      "forbidden for that model by the oracle; exit 1 if a forbidden outcome appeared, 2 on a usage or file\n"
      "error. --oracle prints the allowed sets without running anything, for the models: %s.\n"
      "--explain prints, for each forbidden outcome (observed, or with --oracle every one), the cycle of\n"
      "orders that rules it out; --dot=DIR also writes each as DIR/<test>.<model>.<outcome>.dot.\n"
      "--separate prints, for every pair of models, a program and outcome that one allows and the other\n"
      "forbids, from the programs selected.\n",
      model_names().c_str());
}

// The programs of the files (usage_error for a file that does not parse, a name given twice, or a
// wanted program that no file has).
struct litmus_file {
  std::deque<value> docs;  // a deque: the programs point into them
  std::vector<program> programs;
};

void load(const options& o, litmus_file& f) {
  for (const std::string& file : o.files) {
    try {
      f.docs.push_back(litmus::json::parse_file(file));
    } catch (const std::runtime_error& e) {
      throw usage_error(e.what());
    }
    for (const value& t : litmus::json::at(f.docs.back(), "tests")) {
      f.programs.push_back(litmus::load_program(t));
      const std::string& id = f.programs.back().id;
      if (std::count_if(f.programs.begin(), f.programs.end(), [&](const program& p) { return p.id == id; }) > 1)
        throw usage_error("litmus test " + id + " is named twice in " + o.file);
    }
  }
  for (const std::string& w : o.wanted)
    if (std::none_of(f.programs.begin(), f.programs.end(), [&](const program& p) { return p.id == w; }))
      throw usage_error("no litmus test \"" + w + "\" in " + o.file + " (see --list)");
}

bool selected(const options& o, const program& p) {
  if (!o.wanted.empty() && std::find(o.wanted.begin(), o.wanted.end(), p.id) == o.wanted.end()) return false;
  return o.only_class.empty() || p.cls == o.only_class;
}

std::string labels(const program& p) {
  std::string s;
  for (const auto& ob : p.observed) append(s, ",", ob.label);
  return s;
}

std::string join(const std::set<outcome>& os) {
  std::string s;
  for (const auto& o : os) append(s, " ", show(o));
  return s.empty() ? "-" : s;
}

// Every outcome worth a row: the candidates the file lists and whatever some model allows.
std::set<outcome> universe(const program& p) {
  std::set<outcome> all(p.candidates.begin(), p.candidates.end());
  for (oracle::model m : oracle::all_models())
    for (const auto& o : oracle::allowed(p, m)) all.insert(o);
  return all;
}

std::string file_name(std::string s) {
  for (char& c : s)
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '.') c = '_';
  return s;
}

// Prints why outcome o of p is forbidden (or that it is allowed) under m; writes the dot files.
void explain(const options& opt, const program& p, oracle::model m, const outcome& o) {
  const oracle::explanation ex = oracle::explain(p, m, o);
  if (ex.allowed) {
    std::printf("  %s is allowed under %s\n", show(o).c_str(), oracle::name(m));
    return;
  }
  if (ex.executions.empty()) {
    std::printf("  %s under %s: no execution of the program produces it\n", show(o).c_str(), oracle::name(m));
    return;
  }
  // The same cycle often rules out several candidates (other choices of lock order); one each.
  struct reason {
    const oracle::execution* x;
    std::string cycle;
    int executions;
  };
  std::vector<reason> reasons;
  for (const oracle::execution& x : ex.executions) {
    const std::string cycle = oracle::show_cycle(x, "    ");
    auto it = std::find_if(reasons.begin(), reasons.end(), [&](const reason& r) { return r.cycle == cycle; });
    if (it == reasons.end()) reasons.push_back({&x, cycle, 1});
    else ++it->executions;
  }
  std::printf("  %s is forbidden under %s: none of its %ld candidate executions is consistent\n", show(o).c_str(),
              oracle::name(m), ex.candidates);
  for (std::size_t k = 0; k < reasons.size(); ++k) {
    const reason& r = reasons[k];
    std::string which = reasons.size() > 1 ? "cycle " + std::to_string(k + 1) : std::string("the cycle");
    if (reasons.size() > 1) which += " (" + std::to_string(r.executions) + " of the reads-from and lock-order choices)";
    std::printf("  %s breaks %s:\n%s", which.c_str(), r.x->axiom.c_str(), r.cycle.c_str());
    if (!opt.dot_dir.empty()) {
      std::string o_text = show(o).substr(1);
      o_text.pop_back();
      std::string name = opt.dot_dir + "/" + file_name(p.id) + "." + oracle::name(m) + "." + file_name(o_text);
      if (reasons.size() > 1) name += "." + std::to_string(k + 1);
      name += ".dot";
      ::mkdir(opt.dot_dir.c_str(), 0755);
      std::ofstream out(name);
      if (!out) throw usage_error("cannot write " + name);
      out << oracle::dot(p, *r.x, m);
      std::printf("    (graph: %s)\n", name.c_str());
    }
  }
}

// --oracle --separate: for every pair of models (a, b), the first program of the selection with an
// outcome that a allows and b forbids.
int separate_main(const options& opt, const litmus_file& f) {
  const auto& models = oracle::all_models();
  std::vector<const program*> chosen;
  std::vector<std::vector<std::set<outcome>>> sets;  // per program, per model
  for (const program& p : f.programs) {
    if (!selected(opt, p)) continue;
    chosen.push_back(&p);
    sets.emplace_back();
    for (oracle::model m : models) sets.back().push_back(oracle::allowed(p, m));
  }
  if (chosen.empty()) throw usage_error("no litmus test selected");
  std::printf("a program whose outcome the first model allows and the second forbids (from %zu programs):\n", chosen.size());
  std::string alike;
  for (std::size_t a = 0; a < models.size(); ++a)
    for (std::size_t b = 0; b < models.size(); ++b) {
      if (a == b) continue;
      std::string found;
      for (std::size_t i = 0; i < chosen.size() && found.empty(); ++i)
        for (const outcome& o : sets[i][a])
          if (!sets[i][b].count(o)) {
            found = chosen[i]->id + " " + show(o);
            break;
          }
      if (!found.empty())
        std::printf("  %-14s allows, %-14s forbids: %s\n", oracle::name(models[a]), oracle::name(models[b]), found.c_str());
      else if (a < b) {
        bool other_way = false;
        for (std::size_t i = 0; i < chosen.size() && !other_way; ++i) other_way = sets[i][a] != sets[i][b];
        if (!other_way) append(alike, ", ", std::string(oracle::name(models[a])) + " and " + oracle::name(models[b]));
      }
    }
  std::printf("not told apart by these programs: %s\n", alike.empty() ? "none" : alike.c_str());
  return 0;
}

// --oracle: the allowed sets, and with --explain the cycles, without running anything.
int oracle_main(const options& opt) {
  litmus_file f;
  load(opt, f);
  if (opt.separate) return separate_main(opt, f);
  std::vector<oracle::model> models;
  const std::string want = opt.model.empty() ? "all" : opt.model;
  if (want == "all") models = oracle::all_models();
  else if (auto one = oracle::parse_model(want)) models = {*one};
  else throw usage_error("--model=" + want + ": not a model (known: " + model_names() + ", all)");
  int shown = 0;
  for (const program& p : f.programs) {
    if (!selected(opt, p)) continue;
    ++shown;
    const std::set<outcome> all = universe(p);
    std::printf("%s (%s), %zu processes; outcome = (%s)\n", p.id.c_str(), p.cls.c_str(), p.procs.size(), labels(p).c_str());
    for (oracle::model m : models) {
      const std::set<outcome> ok = oracle::allowed(p, m);
      std::set<outcome> no;
      for (const auto& o : all)
        if (!ok.count(o)) no.insert(o);
      std::printf("  %-14s allowed %s;  forbidden %s\n", oracle::name(m), join(ok).c_str(), join(no).c_str());
      if (auto listed = litmus::listed_outcomes(p, oracle::key(m))) {
        const std::set<outcome> hand(listed->begin(), listed->end());
        if (hand != ok) std::printf("  %-14s litmus.json lists %s: it disagrees with the oracle\n", "", join(hand).c_str());
      }
    }
    if (opt.explain)
      for (oracle::model m : models) {
        const std::set<outcome> ok = oracle::allowed(p, m);
        for (const auto& o : all)
          if ((opt.only_outcome && o == *opt.only_outcome) || (!opt.only_outcome && !ok.count(o))) explain(opt, p, m, o);
        if (opt.only_outcome && !all.count(*opt.only_outcome)) explain(opt, p, m, *opt.only_outcome);
      }
    std::printf("\n");
  }
  if (shown == 0) throw usage_error("no litmus test selected");
  return 0;
}

// Prints the histogram and the summary lines; true if a forbidden outcome appeared.
bool report(const options& opt, const program& p, const std::map<outcome, long>& hist, const std::set<outcome>& ok,
            const std::optional<std::set<outcome>>& listed, oracle::model m, int rounds) {
  std::set<outcome> rows = universe(p);
  for (const auto& [o, n] : hist) rows.insert(o);
  for (const auto& o : ok) rows.insert(o);
  std::printf("%s (%s) under %s [%s]: %d rounds, %d ranks; outcome = (%s)\n", p.id.c_str(), p.cls.c_str(),
              dsm::model_name(dsm::current_model()), oracle::key(m), rounds, dsm::ranks(), labels(p).c_str());
  std::set<outcome> seen_ok, unseen_ok, seen_bad;
  for (const outcome& o : rows) {
    auto it = hist.find(o);
    const long n = it == hist.end() ? 0 : it->second;
    const bool allowed_here = ok.count(o) != 0;
    const bool candidate = p.candidates.empty() || std::find(p.candidates.begin(), p.candidates.end(), o) != p.candidates.end();
    if (n > 0 && allowed_here) seen_ok.insert(o);
    if (n == 0 && allowed_here) unseen_ok.insert(o);
    if (n > 0 && !allowed_here) seen_bad.insert(o);
    std::string note = n > 0 && !allowed_here ? "   <-- OBSERVED" : candidate ? "" : " (not a candidate outcome)";
    if (!opt.file_verdicts && listed && (listed->count(o) != 0) != allowed_here)
      note += std::string("   (litmus.json: ") + (allowed_here ? "forbidden" : "allowed") + ")";
    std::printf("  %-14s %8ld  %s%s\n", show(o).c_str(), n, allowed_here ? "allowed" : "forbidden", note.c_str());
  }
  std::printf("  allowed and seen:      %zu of %zu  %s\n", seen_ok.size(), ok.size(), join(seen_ok).c_str());
  std::printf("  allowed, never seen:   %zu  %s\n", unseen_ok.size(), join(unseen_ok).c_str());
  std::printf("  forbidden and seen:    %zu  %s\n", seen_bad.size(), join(seen_bad).c_str());
  if (opt.explain)
    for (const outcome& o : seen_bad) explain(opt, p, m, o);
  const bool bad = !seen_bad.empty();
  std::printf("  verdict: %s\n\n", bad ? "FAIL, a forbidden outcome appeared" : "ok, every outcome observed is allowed");
  std::fflush(stdout);
  return bad;
}

int main_collective(const options& opt) {
  litmus_file f;
  load(opt, f);
  const std::string name = dsm::model_name(dsm::current_model());
  const auto model = oracle::parse_model(name);
  if (!model) throw usage_error("the oracle knows no model " + name);
  const std::string key = oracle::key(*model);
  if (dsm::rank() == 0)
    std::printf("dsm-litmus: %s, model %s [%s], %d ranks, %d rounds per program, outcomes judged by %s\n\n", opt.file.c_str(),
                name.c_str(), key.c_str(), dsm::ranks(), opt.rounds, opt.file_verdicts ? "the file's lists" : "the oracle");
  bool any_forbidden = false;
  int ran = 0;
  std::size_t allowed_total = 0, seen_total = 0;
  std::uint64_t lock_base = 1000;
  for (const program& p : f.programs) {
    lock_base += 64;  // fresh locks per program (entry binds them)
    if (!selected(opt, p)) continue;
    if (static_cast<int>(p.procs.size()) > dsm::ranks()) {
      if (!opt.wanted.empty())
        throw usage_error("litmus test " + p.id + " needs " + std::to_string(p.procs.size()) + " ranks (mpirun -np " +
                          std::to_string(p.procs.size()) + "), not " + std::to_string(dsm::ranks()));
      if (dsm::rank() == 0) std::printf("%s: skipped, needs %zu ranks\n\n", p.id.c_str(), p.procs.size());
      continue;
    }
    // Before running: refuse rather than guess.
    std::optional<std::set<outcome>> listed;
    if (auto l = litmus::listed_outcomes(p, key)) listed = std::set<outcome>(l->begin(), l->end());
    if (opt.file_verdicts && !listed) {
      std::string known;
      if (const value* all = litmus::json::find(*p.raw, "allowed_outcomes"); all != nullptr && all->is_object())
        for (const auto& [k, v] : all->items()) append(known, ", ", k);
      throw usage_error("litmus test " + p.id + " lists no allowed outcomes for model " + key + " (" + name +
                        "); it lists: " + (known.empty() ? "none" : known) +
                        ". With --verdicts=file the runner does not guess: add \"" + key + "\" to its allowed_outcomes");
    }
    const std::set<outcome> ok = opt.file_verdicts ? *listed : oracle::allowed(p, *model);
    const litmus::run_result result = litmus::run(p, opt.rounds, opt.seed, lock_base);
    const auto& hist = result.histogram;
    if (dsm::rank() == 0) {
      any_forbidden = report(opt, p, hist, ok, listed, *model, opt.rounds) || any_forbidden;
      if (result.stale_warmups != 0) {
        std::printf("%s: FAIL, %ld warm-up reads after the reset and a barrier were not 0\n\n", p.id.c_str(),
                    result.stale_warmups);
        any_forbidden = true;
      }
      allowed_total += ok.size();
      for (const auto& o : ok) seen_total += hist.count(o);
    }
    ++ran;
  }
  if (ran == 0) throw usage_error("no litmus test selected");
  int verdict = any_forbidden ? 1 : 0;
  MPI_Bcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (dsm::rank() == 0) {
    std::printf("dsm-litmus: coverage: %zu of the %zu outcomes allowed under %s seen\n", seen_total, allowed_total, name.c_str());
    std::printf("dsm-litmus: %d program(s) under %s: %s\n", ran, name.c_str(),
                verdict ? "FAIL (forbidden outcomes observed)" : "OK");
  }
  return verdict;
}

// --list: the programs, without MPI.
int list_main(const options& opt) {
  litmus_file f;
  load(opt, f);
  for (const program& p : f.programs)
    std::printf("%-18s %-6s %zu processes\n", p.id.c_str(), p.cls.c_str(), p.procs.size());
  return 0;
}

int fail(const char* what) {
  std::fprintf(stderr, "dsm-litmus: error: %s\n", what);
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  options opt;
  try {
    opt = parse_options(argc, argv);
    if (opt.help) {
      usage();
      return 0;
    }
    if (opt.oracle_only) return oracle_main(opt);
    if (opt.list) return list_main(opt);
  } catch (const std::runtime_error& e) {  // usage_error, and json's missing members
    return fail(e.what());
  } catch (const litmus::json::value::exception& e) {  // a member of the wrong type
    return fail(e.what());
  }
  dsm::runtime rt(argc, argv);
  try {
    return main_collective(opt);
  } catch (const std::runtime_error& e) {
    return dsm::rank() == 0 ? fail(e.what()) : 2;
  } catch (const litmus::json::value::exception& e) {
    return dsm::rank() == 0 ? fail(e.what()) : 2;
  }
}
