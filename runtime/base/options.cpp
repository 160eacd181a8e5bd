// options.cpp: parsing of DSM_* variables and --dsm-* flags; see options.hpp.
#include "base/options.hpp"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <initializer_list>
#include <optional>
#include <stdexcept>
#include <utility>
#include <vector>

namespace dsm::rt {
namespace {

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

[[noreturn]] void bad(const std::string& variable, const std::string& value, const std::string& why,
                      const std::string& choices) {
  throw dsm::error(variable + "='" + value + "' " + why + "; valid: " + choices);
}

bool is_power_of_two(std::uint64_t v) { return v != 0 && (v & (v - 1)) == 0; }

}  // namespace


const std::vector<model_spelling>& model_spellings() {
  static const std::vector<model_spelling> spellings = {
      {dsm::model::sequential, "sequential", "sc"},
      {dsm::model::eager_release, "eager-release", "erc"},
      {dsm::model::lazy_release, "lazy-release", "lrc"},
      {dsm::model::entry, "entry", "ec"},
  };
  return spellings;
}

const char* name_of(dsm::model m) noexcept {
  for (const model_spelling& s : model_spellings())
    if (s.model == m) return s.name;
  return "unknown";
}

dsm::model parse_model(const std::string& variable, const std::string& value) {
  const std::string v = lower(value);
  std::string choices;
  for (const model_spelling& s : model_spellings()) {
    if (v == s.name || v == s.alias) return s.model;
    choices += (choices.empty() ? "" : ", ") + std::string(s.name) + " (" + s.alias + ")";
  }
  bad(variable, value, "is not a consistency model", choices);
}

std::uint64_t parse_size(const std::string& variable, const std::string& value) {
  constexpr const char* kChoices = "a byte count with an optional K, M, G or T suffix (powers of 1024), e.g. 4096, 64K, 16G";
  std::size_t i = 0;
  std::uint64_t n = 0;
  while (i < value.size() && std::isdigit(static_cast<unsigned char>(value[i]))) {
    const std::uint64_t d = static_cast<std::uint64_t>(value[i] - '0');
    if (n > (UINT64_MAX - d) / 10) bad(variable, value, "is too large", kChoices);
    n = n * 10 + d;
    ++i;
  }
  if (i == 0) bad(variable, value, "is not a size", kChoices);
  int shift = 0;
  if (i < value.size()) {
    switch (std::toupper(static_cast<unsigned char>(value[i]))) {
      case 'K': shift = 10; break;
      case 'M': shift = 20; break;
      case 'G': shift = 30; break;
      case 'T': shift = 40; break;
      default: bad(variable, value, "is not a size", kChoices);
    }
    ++i;
    if (i < value.size() && (value[i] == 'B' || value[i] == 'b')) ++i;  // 16GB, 64KiB-style "KB"
    if (i != value.size()) bad(variable, value, "is not a size", kChoices);
  }
  if (shift != 0 && n > (UINT64_MAX >> shift)) bad(variable, value, "is too large", kChoices);
  return n << shift;
}

std::string options::describe() const {
  std::string s = "model=";
  s += name_of(model);
  s += " size=" + std::to_string(size) + " unit=" + std::to_string(unit) + " arena=" + std::to_string(arena);
  s += " stats=" + std::string(stats_table ? "table" : stats_path.empty() ? "off" : stats_path);
  s += " transport=";
  s += transport == transport_kind::mpi ? "mpi" : transport == transport_kind::shm ? "shm" : "auto";
  s += " node_shm=";
  s += node_data ? "on" : node_shm ? "queues" : "off";
  s += " queue_slots=" + std::to_string(queue_slots);
  if (node_ranks != 0) s += " node_ranks=" + std::to_string(node_ranks);
  s += " bind=";
  s += bind == bind_mode::core ? "core" : bind == bind_mode::automatic ? "auto" : "none";
  s += " log=" + std::to_string(static_cast<int>(log));
  s += " gc=" + std::to_string(gc_bytes);
  s += " home=";
  s += home == home_policy::cyclic ? "cyclic" : home == home_policy::block ? "block" : "first-touch";
  s += lazy == lazy_protocol::homeless ? " lazy=homeless" : " lazy=home";
  s += " prefetch=" + std::to_string(prefetch);
  s += check ? " check=1" : " check=0";
  s += invariants ? " invariants=1" : " invariants=0";
  s += " trace=" + (trace_path.empty() ? std::string("off") : trace_path) + " trace_events=" + std::to_string(trace_events);
  s += " chaos=" + (chaos ? std::to_string(chaos_seed) + (chaos_pairs ? ":pairs" : "") : std::string("off"));
  return s;
}

namespace {

// The names a user may set, each as DSM_<NAME> or --dsm-<name>=.
constexpr const char* kNames[] = {"MODEL", "SIZE", "UNIT", "STATS", "TRANSPORT", "LOG", "GC_BYTES", "CHECK",
                                  "NODE_SHM", "NODE_RANKS", "QUEUE_SLOTS", "BIND", "TRACE", "TRACE_EVENTS", "CHAOS",
                                  "HOME", "LAZY", "PREFETCH", "ARENA", "INVARIANTS"};

// A setting as the user wrote it: where (the variable, or the flag) and its value.
using setting = std::pair<std::string, std::string>;

// Takes the --dsm-<name>=<value> flags out of argv, as (DSM_<NAME>, value) in their order.
std::vector<setting> take_flags(int* argc, char*** argv) {
  std::vector<setting> flags;
  if (argc == nullptr || argv == nullptr || *argv == nullptr) return flags;
  int out = 1;
  for (int i = 1; i < *argc; ++i) {
    const char* arg = (*argv)[i];
    if (std::strncmp(arg, "--dsm-", 6) != 0) {
      (*argv)[out++] = (*argv)[i];
      continue;
    }
    const char* eq = std::strchr(arg, '=');
    std::string name = lower(eq ? std::string(arg + 6, eq) : std::string(arg + 6));
    std::string variable = "DSM_";
    for (char c : name) variable += c == '-' ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    bool known = false;
    for (const char* k : kNames) known = known || variable == std::string("DSM_") + k;
    if (!known || eq == nullptr) {
      std::string flags_known;  // "--dsm-model=, --dsm-size=, ...", from kNames
      for (const char* k : kNames) {
        std::string flag = lower(k);
        std::replace(flag.begin(), flag.end(), '_', '-');
        flags_known += (flags_known.empty() ? "--dsm-" : ", --dsm-") + flag + "=";
      }
      bad(std::string("--dsm-") + name, eq ? eq + 1 : "", known ? "needs a value (--dsm-" + name + "=...)" : "is not a dsm flag",
          flags_known);
    }
    flags.emplace_back(variable, eq + 1);
  }
  (*argv)[out] = nullptr;
  *argc = out;
  return flags;
}

// Where each setting comes from: the last flag that names it, else the environment.
class settings {
 public:
  settings(std::vector<setting> flags, const env_lookup& env) : flags_(std::move(flags)), env_(env) {}
  std::optional<setting> operator()(const std::string& variable) const {
    for (auto it = flags_.rbegin(); it != flags_.rend(); ++it) {
      if (it->first == variable) {
        std::string flag = "--dsm-" + lower(variable.substr(4));
        for (char& c : flag) c = c == '_' ? '-' : c;
        return setting(flag, it->second);
      }
    }
    if (auto v = env_(variable)) return setting(variable, *v);
    return std::nullopt;
  }

 private:
  std::vector<setting> flags_;
  const env_lookup& env_;
};

// The value of the choice the setting names (case-insensitive); otherwise an error that says what
// the value is not and what is valid.
template <class T>
T choose(const setting& v, std::initializer_list<std::pair<const char*, T>> choices, const char* what, const char* valid) {
  const std::string s = lower(v.second);
  for (const auto& [name, value] : choices)
    if (s == name) return value;
  bad(v.first, v.second, what, valid);
}

// A switch: 1 or on, 0, off or empty.
bool on_off(const setting& v, const char* what, const char* valid) {
  return choose<bool>(v, {{"1", true}, {"on", true}, {"0", false}, {"off", false}, {"", false}}, what, valid);
}

// A count of at most `digits` decimal digits, if that is what the value is.
std::optional<std::uint64_t> count_of(const setting& v, std::size_t digits) {
  const std::string& s = v.second;
  if (s.empty() || s.size() > digits || s.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  return std::stoull(s);
}

bool ends_with_json(const std::string& s) { return s.size() > 5 && lower(s.substr(s.size() - 5)) == ".json"; }

// DSM_MODEL, DSM_UNIT, DSM_SIZE, DSM_ARENA: the space and its model.
void parse_space(options& o, const settings& lookup, std::size_t os_page) {
  if (auto v = lookup("DSM_MODEL")) o.model = parse_model(v->first, v->second);
  if (auto v = lookup("DSM_UNIT")) {
    o.unit = parse_size(v->first, v->second);
    if (o.unit < os_page || o.unit % os_page != 0 || !is_power_of_two(o.unit / os_page) ||
        o.unit > (std::uint64_t{1} << 30)) {
      bad(v->first, v->second, "is not a valid coherence unit",
          "a power-of-two multiple of the OS page (" + std::to_string(os_page) + " bytes), at most 1G, e.g. 4K, 16K, 64K");
    }
  }
  if (auto v = lookup("DSM_SIZE")) {
    o.size = parse_size(v->first, v->second);
    if (o.size < o.unit || o.size % o.unit != 0 || o.size > (std::uint64_t{1} << 46)) {
      bad(v->first, v->second, "is not a valid global space size",
          "a multiple of DSM_UNIT (" + std::to_string(o.unit) + " bytes) between one unit and 64T, e.g. 1G, 16G");
    }
  }
  if (auto v = lookup("DSM_ARENA")) {
    o.arena = parse_size(v->first, v->second);
    if (o.arena % o.unit != 0 || o.arena < std::uint64_t{64} << 10 || o.arena > (std::uint64_t{1} << 40)) {
      bad(v->first, v->second, "is not a valid arena size",
          "a multiple of DSM_UNIT (" + std::to_string(o.unit) + " bytes) between 64K and 1T, e.g. 256M, 1G");
    }
  }
}

// DSM_STATS.
void parse_stats(options& o, const settings& lookup) {
  auto v = lookup("DSM_STATS");
  if (!v) return;
  const std::string s = v->second;
  if (s == "1" || lower(s) == "table") o.stats_table = true;
  else if (ends_with_json(s)) o.stats_path = s;
  else if (!(s == "0" || s.empty() || lower(s) == "off"))
    bad(v->first, s, "is not a stats setting", "1 (a table at finalize), 0, or a path ending in .json");
}

// DSM_TRANSPORT, DSM_NODE_SHM, DSM_NODE_RANKS, DSM_QUEUE_SLOTS, DSM_BIND: how ranks reach each other.
void parse_transport(options& o, const settings& lookup) {
  if (auto v = lookup("DSM_TRANSPORT")) {
    o.transport = choose<transport_kind>(*v, {{"auto", transport_kind::automatic}, {"shm", transport_kind::shm},
                                              {"mpi", transport_kind::mpi}}, "is not a transport", "auto, shm, mpi");
  }
  if (auto v = lookup("DSM_NODE_SHM")) {
    const int level = choose<int>(*v, {{"on", 2}, {"1", 2}, {"queues", 1}, {"off", 0}, {"0", 0}},
                                  "is not a node-local shared memory setting", "on, queues, off");
    o.node_shm = level >= 1;
    o.node_data = level == 2;
    if (!o.node_shm && o.transport == transport_kind::shm) {
      bad(v->first, v->second, "contradicts DSM_TRANSPORT=shm (shared-memory queues need node-local shared memory)",
          "DSM_NODE_SHM=on with DSM_TRANSPORT=shm, or DSM_NODE_SHM=off with DSM_TRANSPORT=auto or mpi");
    }
  }
  if (auto v = lookup("DSM_NODE_RANKS")) {
    const std::optional<std::uint64_t> n = count_of(*v, 6);
    o.node_ranks = n.value_or(0);
    if (!v->second.empty() && (!n || o.node_ranks > 65536))
      bad(v->first, v->second, "is not a number of ranks per node", "0 (each host one node) or a number from 1 to 65536");
  }
  if (auto v = lookup("DSM_QUEUE_SLOTS")) {
    o.queue_slots = count_of(*v, 6).value_or(0);
    if (!v->second.empty() && (o.queue_slots < 2 || o.queue_slots > 65536))
      bad(v->first, v->second, "is not a number of queue slots", "a number from 2 to 65536");
  }
  if (auto v = lookup("DSM_BIND")) {
    o.bind = choose<bind_mode>(*v, {{"none", bind_mode::none}, {"core", bind_mode::core}, {"auto", bind_mode::automatic}},
                               "is not a binding policy", "none, core, auto");
  }
}

// DSM_GC_BYTES, DSM_HOME, DSM_LAZY, DSM_PREFETCH: how the release models keep their data.
void parse_protocol(options& o, const settings& lookup) {
  if (auto v = lookup("DSM_GC_BYTES")) {
    o.gc_bytes = parse_size(v->first, v->second);
    if (o.gc_bytes == 0) bad(v->first, v->second, "is not a garbage-collection threshold", "a size of at least 1, e.g. 64M");
  }
  if (auto v = lookup("DSM_HOME")) {
    o.home = choose<home_policy>(*v, {{"first-touch", home_policy::first_touch}, {"first_touch", home_policy::first_touch},
                                      {"cyclic", home_policy::cyclic}, {"block", home_policy::block}},
                                 "is not a home placement", "first-touch, cyclic, block");
  }
  if (auto v = lookup("DSM_LAZY")) {
    o.lazy = choose<lazy_protocol>(*v, {{"home", lazy_protocol::home}, {"hlrc", lazy_protocol::home},
                                        {"homeless", lazy_protocol::homeless}, {"treadmarks", lazy_protocol::homeless}},
                                   "is not a lazy release protocol", "home (hlrc), homeless (treadmarks)");
  }
  if (auto v = lookup("DSM_PREFETCH")) {
    o.prefetch = count_of(*v, 3).value_or(0);
    if (o.prefetch < 1 || o.prefetch > 64) bad(v->first, v->second, "is not a number of units to prefetch", "a number from 1 to 64");
  }
}

// DSM_CHECK, DSM_TRACE, DSM_TRACE_EVENTS: what the runtime checks and records.
void parse_checks(options& o, const settings& lookup) {
  if (auto v = lookup("DSM_CHECK"))
    o.check = on_off(*v, "is not a check setting", "1 (report writes to bound data without its lock), 0");
  if (auto v = lookup("DSM_INVARIANTS"))
    o.invariants = on_off(*v, "is not an invariants setting", "1 (the runtime's expensive self-checks), 0");
  if (auto v = lookup("DSM_TRACE")) {
    const std::string s = v->second;
    if (ends_with_json(s)) o.trace_path = s;
    else if (!(s.empty() || s == "0" || lower(s) == "off"))
      bad(v->first, s, "is not a trace setting", "a path ending in .json (Chrome trace format, opens in Perfetto), 0 or off");
  }
  if (auto v = lookup("DSM_TRACE_EVENTS")) {
    o.trace_events = parse_size(v->first, v->second);
    if (o.trace_events == 0 || o.trace_events > (std::uint64_t{1} << 28)) {
      bad(v->first, v->second, "is not a number of trace events", "1 to 256M events per rank, e.g. 1M (56 bytes each)");
    }
  }
}

// DSM_CHAOS: off, or a seed with an optional ":pairs".
void parse_chaos(options& o, const settings& lookup) {
  auto v = lookup("DSM_CHAOS");
  if (!v) return;
  std::string s = lower(v->second);
  if (s == "off" || s.empty()) {
    o.chaos = false;
    return;
  }
  constexpr const char* kChoices = "a seed (an unsigned integer, e.g. 1), a seed followed by :pairs (e.g. 1:pairs), or off";
  if (s.size() > 6 && s.substr(s.size() - 6) == ":pairs") {
    o.chaos_pairs = true;
    s.resize(s.size() - 6);
  }
  std::size_t used = 0;
  unsigned long long seed = 0;
  try {
    seed = std::stoull(s, &used, 10);
  } catch (const std::exception&) {
    bad(v->first, v->second, "is not a chaos setting", kChoices);
  }
  if (used != s.size() || !std::isdigit(static_cast<unsigned char>(s[0]))) bad(v->first, v->second, "is not a chaos setting", kChoices);
  o.chaos = true;
  o.chaos_seed = seed;
}

}  // namespace

options parse_options(const env_lookup& env, int* argc, char*** argv, std::size_t os_page) {
  const settings lookup(take_flags(argc, argv), env);
  options o;
  parse_space(o, lookup, os_page);
  parse_stats(o, lookup);
  parse_transport(o, lookup);
  parse_protocol(o, lookup);
  parse_checks(o, lookup);
  parse_chaos(o, lookup);
  if (auto v = lookup("DSM_LOG")) {
    o.log = choose<log_level>(*v, {{"error", log_level::error}, {"warn", log_level::warn}, {"info", log_level::info},
                                   {"debug", log_level::debug}},
                              "is not a log level", "error, warn, info, debug");
  }
  return o;
}

}  // namespace dsm::rt
