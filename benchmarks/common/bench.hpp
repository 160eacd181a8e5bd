// bench.hpp: what every application benchmark shares (benchmarks/<workload>/, three versions each:
// dsm, mpi, threads). Command-line parsing (--size test|quick|full, --threads N, --n, --iters, ...),
// a steady clock for the timed region, and the one line each program prints:
//
//   RESULT {"app":"jacobi","version":"dsm","ranks":2,"model":"lazy-release","size":"quick",
//           "time_s":0.412,"verified":true,"check":"..."}
//
// Only rank 0 (or the one process of a threads version) prints it. A failed verification prints the
// line with "verified":false, a message on stderr, and the program exits with status 1. A header,
// plus the bench_result_line library that writes the line (result_line.hpp); no dependency on dsm or
// MPI; not thread safe (called from the main thread only).
#ifndef DSM_BENCHMARKS_COMMON_BENCH_HPP_
#define DSM_BENCHMARKS_COMMON_BENCH_HPP_

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <initializer_list>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "result_line.hpp"

namespace bench {

// The parsed command line. Every option is `--name value` or `--name=value`; `--size` is one of
// test (tiny, for the test suite), quick (about a second) and full (the real sizes).
class args {
 public:
  // `allowed` names the options this program accepts besides --size and --threads; anything else
  // is reported on stderr and the program exits with status 2.
  args(int argc, char** argv, std::initializer_list<const char*> allowed) {
    std::vector<std::string> ok{"size", "threads"};
    for (const char* a : allowed) ok.emplace_back(a);
    for (int i = 1; i < argc; ++i) {
      std::string a = argv[i];
      if (a.rfind("--", 0) != 0) usage(argv[0], ok, "unexpected argument '" + a + "'");
      a = a.substr(2);
      std::string value;
      if (const auto eq = a.find('='); eq != std::string::npos) {
        value = a.substr(eq + 1);
        a = a.substr(0, eq);
      } else if (i + 1 < argc) {
        value = argv[++i];
      } else {
        usage(argv[0], ok, "--" + a + " needs a value");
      }
      bool known = false;
      for (const auto& k : ok) known = known || k == a;
      if (!known) usage(argv[0], ok, "unknown option --" + a);
      values_[a] = value;
    }
    size_ = get("size", "quick");
    if (size_ != "test" && size_ != "quick" && size_ != "full")
      usage(argv[0], ok, "--size " + size_ + ": valid: test, quick, full");
    threads_ = static_cast<int>(number("threads", 2));
    if (threads_ < 1) usage(argv[0], ok, "--threads must be at least 1");
  }

  const std::string& size() const { return size_; }
  int threads() const { return threads_; }

  std::string get(const std::string& name, const std::string& fallback) const {
    const auto it = values_.find(name);
    return it == values_.end() ? fallback : it->second;
  }
  // --name if given, else the value for this size.
  long pick(const std::string& name, long test, long quick, long full) const {
    return number(name, size_ == "test" ? test : size_ == "quick" ? quick : full);
  }

 private:
  long number(const std::string& name, long fallback) const {
    const auto it = values_.find(name);
    if (it == values_.end()) return fallback;
    char* end = nullptr;
    const long v = std::strtol(it->second.c_str(), &end, 10);
    if (end == it->second.c_str() || *end != '\0') {
      std::fprintf(stderr, "--%s %s: not a number\n", name.c_str(), it->second.c_str());
      std::exit(2);
    }
    return v;
  }
  [[noreturn]] static void usage(const char* prog, const std::vector<std::string>& ok, const std::string& why) {
    std::fprintf(stderr, "%s: %s\noptions:", prog, why.c_str());
    for (const auto& k : ok) std::fprintf(stderr, " --%s", k.c_str());
    std::fprintf(stderr, " (--size test|quick|full)\n");
    std::exit(2);
  }

  std::map<std::string, std::string> values_;
  std::string size_;
  int threads_ = 2;
};

// Part `p` of `parts` of the range [0, count): [begin, end), as even as possible, with every inner
// edge rounded to a multiple of `align` (items per coherence unit, so that parts write disjoint
// units).
inline std::pair<std::size_t, std::size_t> split(std::size_t count, int parts, int p, std::size_t align = 1) {
  auto edge = [&](int k) -> std::size_t {
    if (k <= 0) return 0;
    if (k >= parts) return count;
    const std::size_t e = count * static_cast<std::size_t>(k) / static_cast<std::size_t>(parts);
    return std::min(count, (e + align / 2) / align * align);
  };
  return {edge(p), std::max(edge(p), edge(p + 1))};
}

// Seconds on a steady clock, for the timed region.
inline double now() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// The RESULT line's fields. `model` is the dsm model name for dsm versions and "" otherwise;
// `extra` adds string fields (LU's "layout").
struct result {
  std::string app;
  std::string version;  // dsm, mpi or threads
  int ranks = 1;
  std::string model;
  std::string size;
  double time_s = 0.0;
  bool verified = false;
  std::string check;
  std::vector<std::pair<std::string, std::string>> extra;
};

// Prints the RESULT line (one JSON object, result_line.hpp); on a failed verification also
// `why` on stderr. Returns the exit status the program should end with (0 or 1).
inline int report(const result& r, const std::string& why = "") {
  fields line = {{"app", r.app}, {"version", r.version}, {"ranks", static_cast<long long>(r.ranks)},
                 {"model", r.model}, {"size", r.size}};
  for (const auto& [k, v] : r.extra) line.emplace_back(k, v);
  line.emplace_back("time_s", rounded(r.time_s, 6));
  line.emplace_back("verified", r.verified);
  line.emplace_back("check", r.check);
  std::printf("RESULT %s\n", json_line(line).c_str());
  std::fflush(stdout);
  if (!r.verified) {
    std::fprintf(stderr, "%s %s: verification FAILED: %s\n", r.app.c_str(), r.version.c_str(), why.c_str());
    return 1;
  }
  return 0;
}

// printf into a std::string, for check strings.
template <class... T>
std::string format(const char* fmt, T... v) {
  char buf[256];
  std::snprintf(buf, sizeof buf, fmt, v...);
  return buf;
}

}  // namespace bench

#endif  // DSM_BENCHMARKS_COMMON_BENCH_HPP_
