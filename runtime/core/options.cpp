// options.cpp: parsing of DSM_* variables and --dsm-* flags; see options.hpp.
#include "core/options.hpp"

#include <cctype>
#include <cstring>
#include <stdexcept>

namespace dsm::rt {
namespace {

constexpr const char* kModelChoices =
    "sequential (sc), eager-release (erc), lazy-release (lrc), entry (ec)";

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


dsm::model parse_model(const std::string& variable, const std::string& value) {
  const std::string v = lower(value);
  if (v == "sequential" || v == "sc") return dsm::model::sequential;
  if (v == "eager-release" || v == "erc") return dsm::model::eager_release;
  if (v == "lazy-release" || v == "lrc") return dsm::model::lazy_release;
  if (v == "entry" || v == "ec") return dsm::model::entry;
  bad(variable, value, "is not a consistency model", kModelChoices);
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
  s += dsm::model_name(model);
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
  s += " trace=" + (trace_path.empty() ? std::string("off") : trace_path) + " trace_events=" + std::to_string(trace_events);
  s += " chaos=" + (chaos ? std::to_string(chaos_seed) + (chaos_pairs ? ":pairs" : "") : std::string("off"));
  return s;
}

options parse_options(const env_lookup& env, int* argc, char*** argv, std::size_t os_page) {
  // The names a user may set, each as DSM_<NAME> or --dsm-<name>=.
  static const char* const kNames[] = {"MODEL", "SIZE", "UNIT", "STATS", "TRANSPORT", "LOG", "GC_BYTES", "CHECK",
                                       "NODE_SHM", "NODE_RANKS", "QUEUE_SLOTS", "BIND", "TRACE", "TRACE_EVENTS", "CHAOS",
                                       "HOME", "LAZY", "PREFETCH", "ARENA"};
  std::vector<std::pair<std::string, std::string>> flags;  // (variable, value) from argv

  if (argc != nullptr && argv != nullptr && *argv != nullptr) {
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
        bad(std::string("--dsm-") + name, eq ? eq + 1 : "", known ? "needs a value (--dsm-" + name + "=...)" : "is not a dsm flag",
            "--dsm-model=, --dsm-size=, --dsm-unit=, --dsm-stats=, --dsm-transport=, --dsm-log=, --dsm-gc-bytes=, "
            "--dsm-check=, --dsm-node-shm=, --dsm-node-ranks=, --dsm-queue-slots=, --dsm-bind=, --dsm-trace=, --dsm-trace-events=, --dsm-chaos=, --dsm-home=, --dsm-lazy=, "
            "--dsm-prefetch=, --dsm-arena=");
      }
      flags.emplace_back(variable, eq + 1);
    }
    (*argv)[out] = nullptr;
    *argc = out;
  }

  auto lookup = [&](const std::string& variable) -> std::optional<std::pair<std::string, std::string>> {
    for (auto it = flags.rbegin(); it != flags.rend(); ++it) {
      if (it->first == variable) {
        std::string flag = "--dsm-" + lower(variable.substr(4));
        for (char& c : flag) c = c == '_' ? '-' : c;
        return std::make_pair(flag, it->second);
      }
    }
    if (auto v = env(variable)) return std::make_pair(variable, *v);
    return std::nullopt;
  };

  options o;
  if (auto v = lookup("DSM_MODEL")) {
    o.model = parse_model(v->first, v->second);
  }
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
  if (auto v = lookup("DSM_STATS")) {
    const std::string s = v->second;
    if (s == "1" || lower(s) == "table") {
      o.stats_table = true;
    } else if (s == "0" || s.empty() || lower(s) == "off") {
    } else if (s.size() > 5 && lower(s.substr(s.size() - 5)) == ".json") {
      o.stats_path = s;
    } else {
      bad(v->first, s, "is not a stats setting", "1 (a table at finalize), 0, or a path ending in .json");
    }
  }
  if (auto v = lookup("DSM_TRANSPORT")) {
    const std::string s = lower(v->second);
    if (s == "auto") o.transport = transport_kind::automatic;
    else if (s == "shm") o.transport = transport_kind::shm;
    else if (s == "mpi") o.transport = transport_kind::mpi;
    else bad(v->first, v->second, "is not a transport", "auto, shm, mpi");
  }
  if (auto v = lookup("DSM_NODE_SHM")) {
    const std::string s = lower(v->second);
    if (s == "on" || s == "1") o.node_shm = o.node_data = true;
    else if (s == "queues") o.node_shm = true, o.node_data = false;
    else if (s == "off" || s == "0") o.node_shm = o.node_data = false;
    else bad(v->first, v->second, "is not a node-local shared memory setting", "on, queues, off");
    if (!o.node_shm && o.transport == transport_kind::shm) {
      bad(v->first, v->second, "contradicts DSM_TRANSPORT=shm (shared-memory queues need node-local shared memory)",
          "DSM_NODE_SHM=on with DSM_TRANSPORT=shm, or DSM_NODE_SHM=off with DSM_TRANSPORT=auto or mpi");
    }
  }
  if (auto v = lookup("DSM_NODE_RANKS")) {
    const std::string& s = v->second;
    const bool digits = !s.empty() && s.size() <= 6 && s.find_first_not_of("0123456789") == std::string::npos;
    o.node_ranks = digits ? std::stoull(s) : 0;
    if (!s.empty() && (!digits || o.node_ranks > 65536)) {
      bad(v->first, v->second, "is not a number of ranks per node", "0 (each host one node) or a number from 1 to 65536");
    }
  }
  if (auto v = lookup("DSM_QUEUE_SLOTS")) {
    const std::string& s = v->second;
    const bool digits = !s.empty() && s.size() <= 6 && s.find_first_not_of("0123456789") == std::string::npos;
    o.queue_slots = digits ? std::stoull(s) : 0;
    if (!s.empty() && (o.queue_slots < 2 || o.queue_slots > 65536)) {
      bad(v->first, v->second, "is not a number of queue slots", "a number from 2 to 65536");
    }
  }
  if (auto v = lookup("DSM_BIND")) {
    const std::string s = lower(v->second);
    if (s == "none") o.bind = bind_mode::none;
    else if (s == "core") o.bind = bind_mode::core;
    else if (s == "auto") o.bind = bind_mode::automatic;
    else bad(v->first, v->second, "is not a binding policy", "none, core, auto");
  }
  if (auto v = lookup("DSM_GC_BYTES")) {
    o.gc_bytes = parse_size(v->first, v->second);
    if (o.gc_bytes == 0) bad(v->first, v->second, "is not a garbage-collection threshold", "a size of at least 1, e.g. 64M");
  }
  if (auto v = lookup("DSM_HOME")) {
    const std::string s = lower(v->second);
    if (s == "first-touch" || s == "first_touch") o.home = home_policy::first_touch;
    else if (s == "cyclic") o.home = home_policy::cyclic;
    else if (s == "block") o.home = home_policy::block;
    else bad(v->first, v->second, "is not a home placement", "first-touch, cyclic, block");
  }
  if (auto v = lookup("DSM_LAZY")) {
    const std::string s = lower(v->second);
    if (s == "home" || s == "hlrc") o.lazy = lazy_protocol::home;
    else if (s == "homeless" || s == "treadmarks") o.lazy = lazy_protocol::homeless;
    else bad(v->first, v->second, "is not a lazy release protocol", "home (hlrc), homeless (treadmarks)");
  }
  if (auto v = lookup("DSM_PREFETCH")) {
    const std::string& s = v->second;
    const bool digits = !s.empty() && s.size() <= 3 && s.find_first_not_of("0123456789") == std::string::npos;
    o.prefetch = digits ? std::stoull(s) : 0;
    if (o.prefetch < 1 || o.prefetch > 64) bad(v->first, v->second, "is not a number of units to prefetch", "a number from 1 to 64");
  }
  if (auto v = lookup("DSM_CHECK")) {
    const std::string s = lower(v->second);
    if (s == "1" || s == "on") o.check = true;
    else if (s == "0" || s == "off" || s.empty()) o.check = false;
    else bad(v->first, v->second, "is not a check setting", "1 (report writes to bound data without its lock), 0");
  }
  if (auto v = lookup("DSM_TRACE")) {
    const std::string s = v->second;
    if (s.empty() || s == "0" || lower(s) == "off") {
    } else if (s.size() > 5 && lower(s.substr(s.size() - 5)) == ".json") {
      o.trace_path = s;
    } else {
      bad(v->first, s, "is not a trace setting", "a path ending in .json (Chrome trace format, opens in Perfetto), 0 or off");
    }
  }
  if (auto v = lookup("DSM_TRACE_EVENTS")) {
    o.trace_events = parse_size(v->first, v->second);
    if (o.trace_events == 0 || o.trace_events > (std::uint64_t{1} << 28)) {
      bad(v->first, v->second, "is not a number of trace events", "1 to 256M events per rank, e.g. 1M (56 bytes each)");
    }
  }
  if (auto v = lookup("DSM_CHAOS")) {
    std::string s = lower(v->second);
    if (s == "off" || s.empty()) {
      o.chaos = false;
    } else {
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
  }
  if (auto v = lookup("DSM_LOG")) {
    const std::string s = lower(v->second);
    if (s == "error") o.log = log_level::error;
    else if (s == "warn") o.log = log_level::warn;
    else if (s == "info") o.log = log_level::info;
    else if (s == "debug") o.log = log_level::debug;
    else bad(v->first, v->second, "is not a log level", "error, warn, info, debug");
  }
  return o;
}

}  // namespace dsm::rt
