// dsm-litmus: runs the litmus programs of a litmus.json on the DSM under the model in force
// (DSM_MODEL) and prints, per program, the histogram of outcomes, each marked allowed or forbidden for
// that model by the file's "allowed_outcomes". Exits 1 if a forbidden outcome appeared, 2 on a usage
// or file error (including a program that lists no allowed outcomes for the model in force: the
// runner refuses to guess), 0 otherwise.
//
//   mpirun -np 2 dsm-litmus --rounds=1000 MP SB        # two programs
//   DSM_MODEL=lazy-release mpirun -np 4 dsm-litmus     # every program that fits in 4 ranks
//   dsm-litmus --list
//
// The programs are interpreted from their "threads_ops": ["W", loc, value], ["R", loc, register],
// ["L", lock], ["U", lock]; process Pi runs on rank i, ranks beyond the program's processes only
// take part in the warm-up and the barriers. The observed tuple follows "observed": "i:reg" is
// register reg of Pi, "final:loc" the value of loc after the round's last barrier. Each round:
// rank 0 resets every location to 0, barrier; every rank reads every location (the warm-up, so that
// stale copies exist where a model allows them), barrier; each rank waits a random short time, runs
// its process, barrier; rank 0 reads the final values. Every location lives on its own coherence
// unit; accesses are seq_cst atomic_ref loads and stores, so neither the compiler nor the processor
// reorders them and what differs between models is the DSM alone. Under the entry model, a location
// named in "ec_binding" is bound to its lock (mutex::bind, when the API has it) and the runner's own
// accesses to it (reset, warm-up, final read) go through that lock.
//
// Collective: every rank parses the same file and makes the same calls; the verdict is rank 0's,
// broadcast so that every rank exits with the same status.
#include <mpi.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <climits>
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
#include "jitter.hpp"
#include "json.hpp"
#include "program.hpp"

namespace {

using litmus::json::value;
using litmus::observation;
using litmus::op;
using litmus::outcome;
using litmus::program;
using litmus::usage_error;
using litmus::show;

// The key of a model in litmus.json.
const char* model_key(dsm::model m) {
  switch (m) {
    case dsm::model::sequential: return "SC";
    case dsm::model::eager_release: return "ERC";
    case dsm::model::lazy_release: return "LRC";
    case dsm::model::entry: return "EC";
  }
  return "?";
}

// The allowed outcomes litmus.json lists for p under model key `key`. Throws usage_error if the
// program says nothing about the model: the runner refuses to guess.
std::vector<outcome> allowed_for(const program& p, const std::string& key) {
  if (auto listed = litmus::listed_outcomes(p, key)) return *listed;
  std::string known;
  if (const value* all = p.raw->find("allowed_outcomes"))
    for (const auto& [k, v] : all->fields) known += (known.empty() ? "" : ", ") + k;
  throw usage_error("litmus test " + p.id + " lists no allowed outcomes for model " + key + " (" +
                    dsm::model_name(dsm::current_model()) + "); it lists: " + (known.empty() ? "none" : known) +
                    ". The runner does not guess: add \"" + key + "\" to its allowed_outcomes");
}

long load(long* v) { return std::atomic_ref<long>(*v).load(std::memory_order_seq_cst); }
void store(long* v, long x) { std::atomic_ref<long>(*v).store(x, std::memory_order_seq_cst); }

// The delay before each thread's accesses, its generator seeded from the run's seed.
litmus::jitter make_jitter(std::uint64_t seed) { return litmus::jitter(seed * 0x9e3779b97f4a7c15ull + 1); }


// Runs p for `rounds` rounds; collective. Returns rank 0's histogram (empty elsewhere).
std::map<outcome, long> run(const program& p, int rounds, std::uint64_t seed, std::uint64_t lock_base) {
  const int me = dsm::rank();
  const bool entry = dsm::current_model() == dsm::model::entry;
  const std::size_t unit = dsm::unit_size();
  const std::size_t stride = std::max<std::size_t>(unit, sizeof(long));
  auto* space = dsm::alloc<std::byte>(stride * p.locs.size());
  auto loc = [&](int i) { return reinterpret_cast<long*>(space + stride * static_cast<size_t>(i)); };
  std::deque<dsm::mutex> locks;
  for (std::size_t l = 0; l < p.locks.size(); ++l) locks.emplace_back(lock_base + l);
  if (entry)
    for (std::size_t i = 0; i < p.locs.size(); ++i)
      if (p.bound_lock[i] >= 0) locks[static_cast<size_t>(p.bound_lock[i])].bind(loc(static_cast<int>(i)), sizeof(long));
  // Under entry, the runner's own accesses to a bound location go through its lock.
  auto guarded = [&](int i, auto&& fn) {
    const int l = entry ? p.bound_lock[static_cast<size_t>(i)] : -1;
    if (l >= 0) locks[static_cast<size_t>(l)].acquire();
    fn(loc(i));
    if (l >= 0) locks[static_cast<size_t>(l)].release();
  };

  const std::size_t nobs = p.observed.size();
  std::vector<long> mine(static_cast<size_t>(rounds) * nobs, LONG_MIN);
  const bool runs_a_process = me < static_cast<int>(p.procs.size());
  std::vector<long> regs(runs_a_process ? p.regs[static_cast<size_t>(me)].size() : 0);
  litmus::jitter delay = make_jitter(seed + static_cast<std::uint64_t>(me));
  volatile long sink = 0;

  for (int round = 0; round < rounds; ++round) {
    if (me == 0)
      for (int i = 0; i < static_cast<int>(p.locs.size()); ++i) guarded(i, [](long* v) { store(v, 0); });
    dsm::barrier();
    for (int i = 0; i < static_cast<int>(p.locs.size()); ++i) guarded(i, [&](long* v) { sink = sink + load(v); });
    dsm::barrier();
    delay();
    if (runs_a_process) {
      std::fill(regs.begin(), regs.end(), 0);
      for (const op& o : p.procs[static_cast<size_t>(me)]) {
        switch (o.kind) {
          case 'W': store(loc(o.loc), o.val); break;
          case 'R': regs[static_cast<size_t>(o.reg)] = load(loc(o.loc)); break;
          case 'L': locks[static_cast<size_t>(o.lock)].acquire(); break;
          case 'S': locks[static_cast<size_t>(o.lock)].acquire_shared(); break;
          case 'U':
            if (o.shared) locks[static_cast<size_t>(o.lock)].release_shared();
            else locks[static_cast<size_t>(o.lock)].release();
            break;
          case 'B': dsm::barrier(); break;
        }
      }
    } else {
      for (int b = 0; b < p.barriers; ++b) dsm::barrier();  // the program's barriers are collective
    }
    dsm::barrier();
    for (std::size_t k = 0; k < nobs; ++k) {
      const observation& ob = p.observed[k];
      long& slot = mine[static_cast<size_t>(round) * nobs + k];
      if (ob.final && me == 0) guarded(ob.loc, [&](long* v) { slot = load(v); });
      if (!ob.final && ob.proc == me) slot = regs[static_cast<size_t>(ob.reg)];
    }
  }
  dsm::barrier();
  dsm::free(space);

  std::vector<long> all(mine.size());
  MPI_Reduce(mine.data(), all.data(), static_cast<int>(mine.size()), MPI_LONG, MPI_MAX, 0, MPI_COMM_WORLD);
  std::map<outcome, long> hist;
  if (me == 0)
    for (int round = 0; round < rounds; ++round)
      ++hist[outcome(all.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(round) * nobs),
                     all.begin() + static_cast<std::ptrdiff_t>(static_cast<size_t>(round + 1) * nobs))];
  return hist;
}

// Prints the histogram; true if a forbidden outcome appeared.
bool report(const program& p, const std::map<outcome, long>& hist, const std::vector<outcome>& allowed, int rounds) {
  const std::set<outcome> ok(allowed.begin(), allowed.end());
  std::set<outcome> rows(p.candidates.begin(), p.candidates.end());
  for (const auto& [o, n] : hist) rows.insert(o);
  for (const auto& o : allowed) rows.insert(o);
  std::string labels;
  for (const auto& ob : p.observed) labels += (labels.empty() ? "" : ",") + ob.label;
  std::printf("%s (%s) under %s [%s]: %d rounds, %d ranks; outcome = (%s)\n", p.id.c_str(), p.cls.c_str(),
              dsm::model_name(dsm::current_model()), model_key(dsm::current_model()), rounds, dsm::ranks(),
              labels.c_str());
  bool bad = false;
  for (const outcome& o : rows) {
    auto it = hist.find(o);
    const long n = it == hist.end() ? 0 : it->second;
    const bool allowed_here = ok.count(o) != 0;
    const bool candidate = p.candidates.empty() || std::find(p.candidates.begin(), p.candidates.end(), o) != p.candidates.end();
    if (n > 0 && !allowed_here) bad = true;
    std::printf("  %-14s %8ld  %s%s\n", show(o).c_str(), n, allowed_here ? "allowed" : "forbidden",
                n > 0 && !allowed_here ? "   <-- OBSERVED" : candidate ? "" : " (not a candidate outcome)");
  }
  std::printf("  verdict: %s\n\n", bad ? "FAIL, a forbidden outcome appeared" : "ok, every outcome observed is allowed");
  std::fflush(stdout);
  return bad;
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

void usage() {
  std::printf(
      "usage: mpirun -np N dsm-litmus [--file=litmus.json] [--rounds=N] [--seed=S] [--class=racy|PL|mixed] "
      "[--list] [TEST...|all]\n"
      "Runs litmus programs under the model in DSM_MODEL; prints each histogram, outcomes marked allowed or\n"
      "forbidden for that model; exit 1 if a forbidden outcome appeared, 2 on a usage or file error.\n");
}

int main_collective(int argc, char** argv) {
  std::string file = default_file(argv[0]);
  int rounds = 1000;
  std::uint64_t seed = 1;
  std::string only_class;
  bool list = false;
  std::vector<std::string> wanted;
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto val = [&](const char* flag) -> std::optional<std::string> {
      const std::string f = std::string(flag) + "=";
      if (a.rfind(f, 0) == 0) return a.substr(f.size());
      return std::nullopt;
    };
    if (auto v = val("--file")) file = *v;
    else if (auto v2 = val("--rounds")) rounds = std::atoi(v2->c_str());
    else if (auto v3 = val("--seed")) seed = std::strtoull(v3->c_str(), nullptr, 10);
    else if (auto v4 = val("--class")) only_class = *v4;
    else if (a == "--list") list = true;
    else if (a == "--help" || a == "-h") {
      if (dsm::rank() == 0) usage();
      return 0;
    } else if (a.rfind("--", 0) == 0) throw usage_error("unknown option " + a + " (see --help)");
    else if (a != "all") wanted.push_back(a);
  }
  if (rounds <= 0) throw usage_error("--rounds must be at least 1");

  std::ifstream in(file);
  if (!in) throw usage_error("cannot read " + file);
  std::stringstream text;
  text << in.rdbuf();
  value doc;
  try {
    doc = litmus::json::parse(text.str());
  } catch (const std::runtime_error& e) {
    throw usage_error(file + ": " + e.what());
  }
  std::vector<program> programs;
  for (const value& t : doc.at("tests").items) programs.push_back(litmus::load_program(t));
  for (const std::string& w : wanted)
    if (std::none_of(programs.begin(), programs.end(), [&](const program& p) { return p.id == w; }))
      throw usage_error("no litmus test \"" + w + "\" in " + file + " (see --list)");

  if (list) {
    if (dsm::rank() == 0)
      for (const program& p : programs)
        std::printf("%-14s %-6s %zu processes\n", p.id.c_str(), p.cls.c_str(), p.procs.size());
    return 0;
  }

  const std::string key = model_key(dsm::current_model());
  if (dsm::rank() == 0)
    std::printf("dsm-litmus: %s, model %s [%s], %d ranks, %d rounds per program\n\n", file.c_str(),
                dsm::model_name(dsm::current_model()), key.c_str(), dsm::ranks(), rounds);
  bool any_forbidden = false;
  int ran = 0;
  std::uint64_t lock_base = 1000;
  for (const program& p : programs) {
    lock_base += 64;  // fresh locks per program (entry binds them)
    if (!wanted.empty() && std::find(wanted.begin(), wanted.end(), p.id) == wanted.end()) continue;
    if (!only_class.empty() && p.cls != only_class) continue;
    if (static_cast<int>(p.procs.size()) > dsm::ranks()) {
      if (!wanted.empty())
        throw usage_error("litmus test " + p.id + " needs " + std::to_string(p.procs.size()) + " ranks (mpirun -np " +
                          std::to_string(p.procs.size()) + "), not " + std::to_string(dsm::ranks()));
      if (dsm::rank() == 0) std::printf("%s: skipped, needs %zu ranks\n\n", p.id.c_str(), p.procs.size());
      continue;
    }
    const std::vector<outcome> allowed = allowed_for(p, key);  // before running: refuse rather than guess
    const auto hist = run(p, rounds, seed, lock_base);
    if (dsm::rank() == 0) any_forbidden = report(p, hist, allowed, rounds) || any_forbidden;
    ++ran;
  }
  if (ran == 0) throw usage_error("no litmus test selected");
  int verdict = any_forbidden ? 1 : 0;
  MPI_Bcast(&verdict, 1, MPI_INT, 0, MPI_COMM_WORLD);
  if (dsm::rank() == 0)
    std::printf("dsm-litmus: %d program(s) under %s: %s\n", ran, dsm::model_name(dsm::current_model()),
                verdict ? "FAIL (forbidden outcomes observed)" : "OK");
  return verdict;
}

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  try {
    return main_collective(argc, argv);
  } catch (const usage_error& e) {
    if (dsm::rank() == 0) std::fprintf(stderr, "dsm-litmus: error: %s\n", e.what());
    return 2;
  } catch (const std::runtime_error& e) {  // json: a missing member
    if (dsm::rank() == 0) std::fprintf(stderr, "dsm-litmus: error: %s\n", e.what());
    return 2;
  }
}
