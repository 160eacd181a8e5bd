// program.cpp: parsing litmus.json's programs (see program.hpp).
#include "program.hpp"

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace litmus {

namespace json {
value parse(const std::string& text) {
  try {
    return value::parse(text);
  } catch (const nlohmann::ordered_json::parse_error& e) {
    throw std::runtime_error(e.what());
  }
}

value parse_file(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw std::runtime_error("cannot read " + path);
  std::stringstream text;
  text << in.rdbuf();
  try {
    return parse(text.str());
  } catch (const std::runtime_error& e) {
    throw std::runtime_error(path + ": " + e.what());
  }
}

const value* find(const value& v, const std::string& key) {
  if (!v.is_object()) return nullptr;
  const auto it = v.find(key);
  return it == v.end() ? nullptr : &*it;
}

const value& at(const value& v, const std::string& key) {
  const value* m = find(v, key);
  if (m == nullptr) throw std::runtime_error("missing \"" + key + "\"");
  return *m;
}
}  // namespace json

namespace {

int index_of(std::vector<std::string>& names, const std::string& n) {
  auto it = std::find(names.begin(), names.end(), n);
  if (it != names.end()) return static_cast<int>(it - names.begin());
  names.push_back(n);
  return static_cast<int>(names.size() - 1);
}

const std::string& as_string(const json::value& v, const std::string& where) {
  if (!v.is_string()) throw usage_error(where + ": expected a string");
  return v.get_ref<const std::string&>();
}

long as_long(const json::value& v, const std::string& where) {
  if (!v.is_number()) throw usage_error(where + ": expected a number");
  return v.get<long>();
}

}  // namespace

std::vector<outcome> outcomes_of(const json::value& v, const std::string& where) {
  if (!v.is_array()) throw usage_error(where + ": expected a list of outcomes");
  std::vector<outcome> out;
  for (const json::value& o : v) {
    if (!o.is_array()) throw usage_error(where + ": expected an outcome (a list of numbers)");
    outcome x;
    for (const json::value& n : o) x.push_back(as_long(n, where));
    out.push_back(std::move(x));
  }
  return out;
}

program load_program(const json::value& t) {
  program p;
  p.raw = &t;
  p.id = as_string(json::at(t, "id"), "a test's id");
  const std::string where = "litmus test " + p.id;
  if (const json::value* c = json::find(t, "class")) p.cls = as_string(*c, where + ": class");
  const json::value& threads = json::at(t, "threads_ops");
  if (!threads.is_array() || threads.empty()) throw usage_error(where + ": threads_ops must list processes");
  for (const json::value& th : threads) {
    std::vector<op> ops;
    std::vector<std::string> regs;
    std::vector<std::pair<int, bool>> held;  // locks held: (lock, shared)
    int barriers = 0;
    for (const json::value& o : th) {
      if (!o.is_array() || o.empty()) throw usage_error(where + ": an op must be a list [kind, ...]");
      const std::string k = as_string(o[0], where + ": op kind");
      auto arg = [&](std::size_t i) -> const json::value& {
        if (o.size() <= i) throw usage_error(where + ": op " + k + " lacks an argument");
        return o[i];
      };
      op x{k.empty() ? '?' : k[0]};
      if (k == "W") {
        x.loc = index_of(p.locs, as_string(arg(1), where));
        x.val = as_long(arg(2), where);
      } else if (k == "R") {
        x.loc = index_of(p.locs, as_string(arg(1), where));
        x.reg = index_of(regs, as_string(arg(2), where));
      } else if (k == "L" || k == "S") {
        x.lock = index_of(p.locks, as_string(arg(1), where));
        for (const auto& h : held)
          if (h.first == x.lock) throw usage_error(where + ": lock " + p.locks[static_cast<size_t>(x.lock)] + " acquired twice");
        held.emplace_back(x.lock, k == "S");
      } else if (k == "U") {
        x.lock = index_of(p.locks, as_string(arg(1), where));
        auto h = std::find_if(held.begin(), held.end(), [&](const auto& e) { return e.first == x.lock; });
        if (h == held.end()) throw usage_error(where + ": unlock of " + p.locks[static_cast<size_t>(x.lock)] + ", not held");
        x.shared = h->second;
        held.erase(h);
      } else if (k == "B") {
        ++barriers;
      } else {
        throw usage_error(where + ": unknown op \"" + k + "\" (known: W, R, L, S, U, B)");
      }
      ops.push_back(x);
    }
    if (!held.empty()) throw usage_error(where + ": a process ends holding lock " + p.locks[static_cast<size_t>(held[0].first)]);
    if (p.procs.empty()) p.barriers = barriers;
    if (barriers != p.barriers) throw usage_error(where + ": every process must pass the same number of barriers");
    p.procs.push_back(std::move(ops));
    p.regs.push_back(std::move(regs));
  }
  for (const json::value& o : json::at(t, "observed")) {
    const std::string s = as_string(o, where + ": observed");
    const auto colon = s.find(':');
    if (colon == std::string::npos) throw usage_error(where + ": observed \"" + s + "\" is not P:reg or final:loc");
    observation ob;
    ob.label = s;
    const std::string head = s.substr(0, colon), tail = s.substr(colon + 1);
    if (head == "final") {
      ob.final = true;
      ob.loc = index_of(p.locs, tail);
    } else {
      ob.proc = std::atoi(head.c_str());
      if (head.empty() || head.find_first_not_of("0123456789") != std::string::npos || ob.proc < 0 ||
          ob.proc >= static_cast<int>(p.procs.size()))
        throw usage_error(where + ": observed \"" + s + "\" names no process");
      auto& regs = p.regs[static_cast<size_t>(ob.proc)];
      auto it = std::find(regs.begin(), regs.end(), tail);
      if (it == regs.end()) throw usage_error(where + ": observed \"" + s + "\": P" + head + " has no register " + tail);
      ob.reg = static_cast<int>(it - regs.begin());
    }
    p.observed.push_back(ob);
  }
  if (const json::value* c = json::find(t, "all_candidate_outcomes")) p.candidates = outcomes_of(*c, where + ": all_candidate_outcomes");
  p.bound_lock.assign(p.locs.size(), -1);
  if (const json::value* b = json::find(t, "ec_binding"); b != nullptr && b->is_object()) {
    for (const auto& [lock, locs] : b->items()) {
      const int l = index_of(p.locks, lock);
      for (const json::value& n : locs) {
        const int i = index_of(p.locs, as_string(n, where));
        p.bound_lock.resize(p.locs.size(), -1);
        p.bound_lock[static_cast<size_t>(i)] = l;
      }
    }
  }
  p.bound_lock.resize(p.locs.size(), -1);
  p.delay.assign(p.procs.size(), 0);
  if (const json::value* d = json::find(t, "delay")) {
    if (!d->is_array() || d->size() != p.procs.size()) throw usage_error(where + ": delay must list one number per process");
    for (std::size_t i = 0; i < p.procs.size(); ++i) p.delay[i] = as_long((*d)[i], where + ": delay");
  }
  return p;
}

std::optional<std::vector<outcome>> listed_outcomes(const program& p, const std::string& key) {
  const std::string where = "litmus test " + p.id;
  const json::value* all = p.raw ? json::find(*p.raw, "allowed_outcomes") : nullptr;
  const json::value* mine = all ? json::find(*all, key) : nullptr;
  if (mine == nullptr) return std::nullopt;
  if (mine->is_array()) return outcomes_of(*mine, where + ": allowed_outcomes." + key);
  const std::string s = as_string(*mine, where + ": allowed_outcomes." + key);
  if (s == "ALL") {
    if (p.candidates.empty()) throw usage_error(where + ": allowed \"ALL\" but no all_candidate_outcomes");
    return p.candidates;
  }
  if (s == "SC" || s == "SC+interest") {
    if (key == "SC") throw usage_error(where + ": allowed_outcomes.SC refers to itself");
    auto sc = listed_outcomes(p, "SC");
    if (!sc) throw usage_error(where + ": allowed_outcomes." + key + " is \"" + s + "\" but SC lists nothing");
    if (s == "SC+interest") {
      outcome interest;
      for (const json::value& n : json::at(*p.raw, "outcome_of_interest")) interest.push_back(as_long(n, where));
      sc->push_back(std::move(interest));
    }
    return sc;
  }
  throw usage_error(where + ": allowed_outcomes." + key + " = \"" + s + "\" is not a list, SC, ALL or SC+interest");
}

std::string show(const outcome& o) {
  std::string s = "(";
  for (std::size_t i = 0; i < o.size(); ++i) {
    if (i) s += ',';
    s += std::to_string(o[i]);
  }
  return s + ")";
}

std::string show(const program& p, int proc, const op& o) {
  auto loc = [&] { return p.locs[static_cast<size_t>(o.loc)]; };
  auto lock = [&] { return p.locks[static_cast<size_t>(o.lock)]; };
  switch (o.kind) {
    case 'W': return loc() + " = " + std::to_string(o.val);
    case 'R': return p.regs[static_cast<size_t>(proc)][static_cast<size_t>(o.reg)] + " = " + loc();
    case 'L': return "lock(" + lock() + ")";
    case 'S': return "lock_shared(" + lock() + ")";
    case 'U': return (o.shared ? "unlock_shared(" : "unlock(") + lock() + ")";
    case 'B': return "barrier";
  }
  return "?";
}

}  // namespace litmus
