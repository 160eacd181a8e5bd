// oracle.cpp: the models of oracle.hpp. Each model is a few lines in consistent() below; the rest
// builds the events of a program and enumerates its candidate executions.
//
// Notation (herd's): po program order (a barrier is one event that every process passes, so po runs
// through it from one process to the others); so synchronisation order, from the release of a
// critical section to the acquire of every later section of the same lock (two shared sections are
// not ordered); rf reads-from, rfe its edges between processes; co coherence, the order of the
// writes to one location, the initial write first; fr from-reads, from a read to every write that
// follows, in co, the write it reads; po-loc po between accesses to one location; hb = (po | so)+.
// The final values ("final:x") are read by one more process that starts after a last barrier.
#include "oracle.hpp"

#include <algorithm>
#include <cstdint>
#include <deque>
#include <functional>
#include <map>

namespace litmus::oracle {

namespace {

using bits = std::uint64_t;
constexpr int max_events = 64;
bits bit(int i) { return bits{1} << i; }

// A relation on at most 64 events, as one row of bits per event.
struct rel {
  std::vector<bits> row;
  explicit rel(std::size_t n = 0) : row(n, 0) {}
  bool has(int a, int b) const { return (row[static_cast<size_t>(a)] & bit(b)) != 0; }
  void add(int a, int b) { row[static_cast<size_t>(a)] |= bit(b); }
  void close() {  // transitive closure (Warshall)
    for (std::size_t k = 0; k < row.size(); ++k)
      for (auto& r : row)
        if (r & bit(static_cast<int>(k))) r |= row[k];
  }
  bool acyclic() const {
    rel c = *this;
    c.close();
    for (std::size_t i = 0; i < c.row.size(); ++i)
      if (c.has(static_cast<int>(i), static_cast<int>(i))) return false;
    return true;
  }
};

// A cycle of the relation made of `edges`, or none. Depth-first search.
std::vector<edge> find_cycle(std::size_t n, const std::vector<edge>& edges) {
  std::vector<std::vector<const edge*>> out(n);
  for (const edge& e : edges) out[static_cast<size_t>(e.from)].push_back(&e);
  std::vector<int> colour(n, 0);  // 0 new, 1 on the stack, 2 done
  std::vector<const edge*> stack;
  std::vector<edge> cycle;
  std::function<bool(int)> visit = [&](int v) {
    colour[static_cast<size_t>(v)] = 1;
    for (const edge* e : out[static_cast<size_t>(v)]) {
      stack.push_back(e);
      if (colour[static_cast<size_t>(e->to)] == 1) {
        auto first = std::find_if(stack.begin(), stack.end(), [&](const edge* x) { return x->from == e->to; });
        for (auto it = first; it != stack.end(); ++it) cycle.push_back(**it);
        return true;
      }
      if (colour[static_cast<size_t>(e->to)] == 0 && visit(e->to)) return true;
      stack.pop_back();
    }
    colour[static_cast<size_t>(v)] = 2;
    return false;
  };
  for (std::size_t v = 0; v < n; ++v)
    if (colour[v] == 0 && visit(static_cast<int>(v))) return cycle;
  return {};
}

bool acyclic(std::size_t n, const std::vector<edge>& edges) {
  rel r(n);
  for (const edge& e : edges) r.add(e.from, e.to);
  return r.acyclic();
}

// A shortest path from a to b over `edges` (breadth first); empty if none.
std::vector<edge> find_path(std::size_t n, const std::vector<edge>& edges, int a, int b) {
  std::vector<const edge*> via(n, nullptr);
  std::vector<bool> seen(n, false);
  std::deque<int> todo{a};
  seen[static_cast<size_t>(a)] = true;
  while (!todo.empty()) {
    const int v = todo.front();
    todo.pop_front();
    if (v == b) break;
    for (const edge& e : edges)
      if (e.from == v && !seen[static_cast<size_t>(e.to)]) {
        seen[static_cast<size_t>(e.to)] = true;
        via[static_cast<size_t>(e.to)] = &e;
        todo.push_back(e.to);
      }
  }
  std::vector<edge> path;
  for (int v = b; v != a && via[static_cast<size_t>(v)]; v = via[static_cast<size_t>(v)]->from) path.push_back(*via[static_cast<size_t>(v)]);
  std::reverse(path.begin(), path.end());
  return path;
}

using kind = event::kind;

struct section {
  int acq, rel;
  bool shared;
};

// The events of a program, fixed before any choice is made.
struct skeleton {
  const program* p = nullptr;
  std::vector<event> ev;
  std::vector<int> reg;                 // per event: a read's register, else -1
  std::vector<std::vector<int>> seq;    // per process (the final reader last): its events in program order
  std::vector<int> reads;
  std::vector<std::vector<int>> writes; // per location: its initial write, then the others
  std::vector<std::vector<section>> sections;  // per lock
  std::vector<edge> po_next;            // each event to the next of its process
  rel po;                               // program order, transitive, through barriers
  bits later = 0;                       // every event but the initial writes
  std::vector<edge> po_loc, ppo_weak, ppo_release;  // fixed parts of the axioms below
  std::size_t n() const { return ev.size(); }
  bool sync(int e) const {
    const kind k = ev[static_cast<size_t>(e)].k;
    return k == kind::acquire || k == kind::release || k == kind::barrier;
  }
  bool access(int e) const {
    const kind k = ev[static_cast<size_t>(e)].k;
    return k == kind::write || k == kind::read;
  }
};

skeleton build(const program& p) {
  skeleton s;
  s.p = &p;
  auto add = [&](event e, int r = -1) {
    s.ev.push_back(std::move(e));
    s.reg.push_back(r);
    return static_cast<int>(s.ev.size() - 1);
  };
  s.writes.resize(p.locs.size());
  for (std::size_t l = 0; l < p.locs.size(); ++l)
    s.writes[l].push_back(add({kind::init, -1, static_cast<int>(l), 0, "init: " + p.locs[l] + " = 0"}));
  std::vector<int> barrier(static_cast<size_t>(p.barriers));
  for (int b = 0; b < p.barriers; ++b) barrier[static_cast<size_t>(b)] = add({kind::barrier, -1, -1, 0, "barrier " + std::to_string(b + 1)});
  s.sections.resize(p.locks.size());
  const int nprocs = static_cast<int>(p.procs.size());
  for (int i = 0; i < nprocs; ++i) {
    std::vector<int> seq;
    std::map<int, std::size_t> open;  // lock -> its section being built
    int barriers = 0;
    for (const op& o : p.procs[static_cast<size_t>(i)]) {
      std::string text = "P";
      text += std::to_string(i);
      text += ": ";
      text += show(p, i, o);
      int e = -1;
      switch (o.kind) {
        case 'W':
          e = add({kind::write, i, o.loc, o.val, text});
          s.writes[static_cast<size_t>(o.loc)].push_back(e);
          break;
        case 'R':
          e = add({kind::read, i, o.loc, 0, text}, o.reg);
          s.reads.push_back(e);
          break;
        case 'L':
        case 'S':
          e = add({kind::acquire, i, -1, 0, text});
          s.sections[static_cast<size_t>(o.lock)].push_back({e, -1, o.kind == 'S'});
          open[o.lock] = s.sections[static_cast<size_t>(o.lock)].size() - 1;
          break;
        case 'U':
          e = add({kind::release, i, -1, 0, text});
          s.sections[static_cast<size_t>(o.lock)][open[o.lock]].rel = e;
          break;
        case 'B': e = barrier[static_cast<size_t>(barriers++)]; break;
      }
      seq.push_back(e);
    }
    s.seq.push_back(std::move(seq));
  }
  bool finals = false;
  for (const observation& ob : p.observed) finals = finals || ob.final;
  if (finals) {
    const int last = add({kind::barrier, -1, -1, 0, "the final barrier"});
    std::vector<int> seq{last};
    for (auto& q : s.seq) q.push_back(last);
    for (const observation& ob : p.observed)
      if (ob.final) {
        const int e = add({kind::read, nprocs, ob.loc, 0, "final: " + p.locs[static_cast<size_t>(ob.loc)]});
        s.reads.push_back(e);
        seq.push_back(e);
      }
    s.seq.push_back(std::move(seq));
  }
  if (s.n() > max_events)
    throw usage_error("litmus test " + p.id + ": " + std::to_string(s.n()) + " events, more than the oracle's " +
                      std::to_string(max_events));
  s.po = rel(s.n());
  for (const auto& q : s.seq)
    for (std::size_t i = 0; i < q.size(); ++i) {
      if (i + 1 < q.size()) s.po_next.push_back({q[i], q[i + 1], "po"});
      for (std::size_t j = i + 1; j < q.size(); ++j) s.po.add(q[i], q[j]);
    }
  s.po.close();
  for (std::size_t e = 0; e < s.n(); ++e)
    if (s.ev[e].k != kind::init) s.later |= bit(static_cast<int>(e));
  for (int a = 0; a < static_cast<int>(s.n()); ++a)
    for (int b = 0; b < static_cast<int>(s.n()); ++b) {
      if (!s.po.has(a, b)) continue;
      const event &x = s.ev[static_cast<size_t>(a)], &y = s.ev[static_cast<size_t>(b)];
      if (s.access(a) && s.access(b) && x.loc == y.loc && x.proc == y.proc) s.po_loc.push_back({a, b, "po-loc"});
      // Weak ordering: every synchronisation is a fence.
      if (s.sync(a) || s.sync(b)) s.ppo_weak.push_back({a, b, "po"});
      // Release consistency: accesses wait for earlier acquires, releases for earlier accesses, and
      // synchronisations keep their order. A barrier is both an acquire and a release.
      const bool from_acquire = x.k == kind::acquire || x.k == kind::barrier;
      const bool to_release = y.k == kind::release || y.k == kind::barrier;
      if (from_acquire || to_release || (s.sync(a) && s.sync(b))) s.ppo_release.push_back({a, b, "po"});
    }
  return s;
}

// The choices of one candidate execution.
struct candidate {
  std::vector<edge> so;
  std::vector<int> rf;                // per event: a read's write, else -1
  std::vector<std::vector<int>> co;   // per location, the initial write first
};

outcome result_of(const skeleton& s, const candidate& c) {
  const program& p = *s.p;
  std::vector<std::vector<long>> regs;
  for (std::size_t i = 0; i < p.procs.size(); ++i) regs.emplace_back(p.regs[i].size(), 0);
  std::map<int, long> finals;
  for (const auto& q : s.seq)
    for (int e : q) {
      const event& x = s.ev[static_cast<size_t>(e)];
      if (x.k != kind::read) continue;
      const long v = s.ev[static_cast<size_t>(c.rf[static_cast<size_t>(e)])].val;
      if (x.proc < static_cast<int>(p.procs.size())) regs[static_cast<size_t>(x.proc)][static_cast<size_t>(s.reg[static_cast<size_t>(e)])] = v;
      else finals[x.loc] = v;
    }
  outcome o;
  for (const observation& ob : p.observed)
    o.push_back(ob.final ? finals[ob.loc] : regs[static_cast<size_t>(ob.proc)][static_cast<size_t>(ob.reg)]);
  return o;
}

std::vector<edge> rf_edges(const skeleton& s, const candidate& c, bool external_only) {
  std::vector<edge> out;
  for (int r : s.reads) {
    const int w = c.rf[static_cast<size_t>(r)];
    if (!external_only || s.ev[static_cast<size_t>(w)].proc != s.ev[static_cast<size_t>(r)].proc) out.push_back({w, r, "rf"});
  }
  return out;
}

// co as consecutive edges, and fr: from each read to every write after the one it reads.
std::vector<edge> co_fr_edges(const skeleton& s, const std::vector<std::vector<int>>& co, const std::vector<int>& rf,
                              const std::vector<int>& reads, const std::string& suffix = "") {
  std::vector<edge> out;
  for (const auto& order : co)
    for (std::size_t i = 0; i + 1 < order.size(); ++i) out.push_back({order[i], order[i + 1], "co" + suffix});
  for (int r : reads) {
    const auto& order = co[static_cast<size_t>(s.ev[static_cast<size_t>(r)].loc)];
    auto it = std::find(order.begin(), order.end(), rf[static_cast<size_t>(r)]);
    for (++it; it != order.end(); ++it) out.push_back({r, *it, "fr" + suffix});
  }
  return out;
}

// uniproc, the per-location coherence every model with a co keeps: acyclic(po-loc | rf | co | fr).
std::vector<edge> uniproc(const skeleton& s, const candidate& c) {
  std::vector<edge> e = rf_edges(s, c, false);
  for (const edge& x : co_fr_edges(s, c.co, c.rf, s.reads)) e.push_back(x);
  e.insert(e.end(), s.po_loc.begin(), s.po_loc.end());
  return e;
}

// The preserved program order of weak ordering and of release consistency, with the rest of the
// global axiom: acyclic(ppo | so | rfe | co | fr).
std::vector<edge> ordered(const skeleton& s, const candidate& c, bool release) {
  std::vector<edge> e = release ? s.ppo_release : s.ppo_weak;
  e.insert(e.end(), c.so.begin(), c.so.end());
  for (const edge& x : rf_edges(s, c, true)) e.push_back(x);
  for (const edge& x : co_fr_edges(s, c.co, c.rf, s.reads)) e.push_back(x);
  return e;
}

// hb = (po | so)+, every initial write before every other event; `lock_ok` filters so by lock.
rel happens_before(const skeleton& s, const candidate& c, const std::function<bool(const edge&)>& lock_ok) {
  rel hb = s.po;
  for (const edge& e : c.so)
    if (lock_ok(e)) hb.add(e.from, e.to);
  hb.close();
  for (const auto& w : s.writes) hb.row[static_cast<size_t>(w[0])] = s.later;
  return hb;
}

struct verdict {
  bool ok = true;
  std::string axiom;
  std::vector<edge> cycle;
};

// Lazy release and entry: a read may return a write unless the read happens before it, or another
// write to its location comes between them in the order that carries that location's data.
verdict visible(const skeleton& s, const candidate& c, bool entry, bool want_cycle) {
  const program& p = *s.p;
  auto all = [](const edge&) { return true; };
  const rel hb = happens_before(s, c, all);
  std::vector<edge> base = s.po_next;
  for (const edge& e : c.so) base.push_back(e);
  std::map<int, rel> carries;  // per location under entry: hb through the locks bound to it
  for (int r : s.reads) {
    const int w = c.rf[static_cast<size_t>(r)];
    const int loc = s.ev[static_cast<size_t>(r)].loc;
    if (hb.has(r, w)) {
      verdict v{false, "irreflexive(rf ; hb): no read returns a write that it happens before", {}};
      if (want_cycle) {
        v.cycle.push_back({w, r, "rf"});
        for (const edge& e : find_path(s.n(), base, r, w)) v.cycle.push_back(e);
      }
      return v;
    }
    int bound = -1;
    if (entry) bound = p.bound_lock[static_cast<size_t>(loc)];
    auto lock_of = [&](const edge& e) {
      for (std::size_t l = 0; l < s.sections.size(); ++l)
        for (const section& x : s.sections[l])
          if (x.rel == e.from) return static_cast<int>(l);
      return -1;
    };
    auto carries_loc = [&](const edge& e) { return !entry || lock_of(e) == bound; };
    if (!carries.count(loc)) carries.emplace(loc, entry ? happens_before(s, c, carries_loc) : hb);
    const rel& h = carries.at(loc);
    for (int w2 : s.writes[static_cast<size_t>(loc)]) {
      if (w2 == w || !h.has(w, w2) || !h.has(w2, r)) continue;
      verdict v{false,
                entry ? "irreflexive(fr ; hb-loc): no read returns a write hidden by a later one that reaches it "
                        "through po, barriers and the lock bound to the location"
                      : "irreflexive(fr ; hb): no read returns a write hidden by a later one that happens before it",
                {}};
      if (want_cycle) {
        std::vector<edge> carrying = s.po_next;
        for (const edge& e : c.so)
          if (carries_loc(e)) carrying.push_back(e);
        v.cycle.push_back({r, w2, "fr"});
        for (const edge& e : find_path(s.n(), carrying, w2, r)) v.cycle.push_back(e);
      }
      return v;
    }
  }
  return {};
}

// Whether cycle a keeps clearer of the final reads than b (they add detours through the final
// barrier), or is as clear and shorter: the one to show.
bool clearer(const skeleton& s, const std::vector<edge>& a, const std::vector<edge>& b) {
  auto score = [&](const std::vector<edge>& cycle) {
    long touching = 0;
    for (const edge& e : cycle) {
      const event& to = s.ev[static_cast<size_t>(e.to)];
      touching += to.proc >= static_cast<int>(s.p->procs.size()) || to.text == "the final barrier";
    }
    return std::make_pair(touching, cycle.size());
  };
  return score(a) < score(b);
}

// Causal and PRAM: every process sees all writes and its own events in one order that extends
// `order`, each of its reads returning the last write to its location before it in that order.
verdict views(const skeleton& s, const candidate& c, bool causal, bool want_cycle) {
  rel order = s.po;
  for (const edge& e : c.so) order.add(e.from, e.to);
  if (causal)
    for (int r : s.reads) order.add(c.rf[static_cast<size_t>(r)], r);
  order.close();
  for (const auto& w : s.writes) order.row[static_cast<size_t>(w[0])] = s.later;
  const std::string name = causal ? "causal" : "po|so";
  // A cycle's edges of `order` drawn as the po, so (and for causal, rf) steps they stand for.
  std::vector<edge> steps = s.po_next;
  steps.insert(steps.end(), c.so.begin(), c.so.end());
  if (causal)
    for (const edge& e : rf_edges(s, c, false)) steps.push_back(e);
  auto unfold = [&](const std::vector<edge>& cycle) {
    std::vector<edge> out;
    for (const edge& e : cycle) {
      std::vector<edge> path = e.kind == name ? find_path(s.n(), steps, e.from, e.to) : std::vector<edge>{};
      if (path.empty()) out.push_back(e);
      else out.insert(out.end(), path.begin(), path.end());
    }
    return out;
  };
  for (std::size_t proc = 0; proc < s.seq.size(); ++proc) {
    std::vector<bool> in(s.n(), false);
    std::vector<int> mine;
    for (const auto& w : s.writes)
      for (int e : w) in[static_cast<size_t>(e)] = true;
    for (int e : s.seq[proc]) in[static_cast<size_t>(e)] = true;
    for (int r : s.reads)
      if (in[static_cast<size_t>(r)]) mine.push_back(r);
    std::vector<edge> base;
    for (int a = 0; a < static_cast<int>(s.n()); ++a)
      for (int b = 0; b < static_cast<int>(s.n()); ++b)
        if (in[static_cast<size_t>(a)] && in[static_cast<size_t>(b)] && order.has(a, b))
          base.push_back({a, b, s.po.has(a, b) && s.ev[static_cast<size_t>(a)].proc == s.ev[static_cast<size_t>(b)].proc ? "po" : name});
    for (int r : mine) base.push_back({c.rf[static_cast<size_t>(r)], r, "rf"});
    // Some order of each location's writes, as this process sees them, must make base acyclic.
    std::vector<std::vector<int>> co = s.writes;
    for (auto& w : co) std::sort(w.begin() + 1, w.end());
    const bool final_reader = proc == s.p->procs.size();
    const std::string process = final_reader ? "the final reader" : "P" + std::to_string(proc);
    const std::string who = "(" + std::string(final_reader ? "final" : process) + ")";
    std::vector<edge> first_failure;
    std::function<bool(std::size_t)> choose = [&](std::size_t loc) -> bool {
      if (loc == co.size()) {
        std::vector<edge> e = base;
        for (const edge& x : co_fr_edges(s, co, c.rf, mine, who)) e.push_back(x);
        if (acyclic(s.n(), e)) return true;
        if (want_cycle) {  // of the orders tried, the cycle that keeps clearest of the final reads
          std::vector<edge> cycle = unfold(find_cycle(s.n(), e));
          if (first_failure.empty() || clearer(s, cycle, first_failure)) first_failure = std::move(cycle);
        }
        return false;
      }
      do {
        if (choose(loc + 1)) return true;
      } while (std::next_permutation(co[loc].begin() + 1, co[loc].end()));
      return false;
    };
    if (!choose(0))
      return {false,
              process + "'s view: acyclic(" + (causal ? "(po | rf | so)+" : "(po | so)+") + " | rf | co" + who + " | fr" +
                  who + ") for some co" + who + ", the order in which " + process + " sees each location's writes",
              first_failure};
  }
  return {};
}

// The models. `c.co` is chosen for the models that have one (strict, sequential, weak, eager release).
verdict consistent(const skeleton& s, const candidate& c, model m, bool want_cycle) {
  auto check = [&](const std::vector<edge>& e, const char* axiom) {
    if (acyclic(s.n(), e)) return verdict{};
    return verdict{false, axiom, want_cycle ? find_cycle(s.n(), e) : std::vector<edge>{}};
  };
  switch (m) {
    // Strict consistency: a read returns the most recent write in real time. An outcome carries no
    // time, and any interleaving can happen in real time, so its outcomes are sequential
    // consistency's (Tanenbaum & van Steen, Distributed Systems, ch. 7).
    case model::strict:
    // Sequential consistency (Lamport 1979), in Shasha & Snir's form (herd's SC.cat): one order of
    // all events that respects program order and the locks.
    case model::sequential: {
      std::vector<edge> e = s.po_next;
      for (const edge& x : c.so) e.push_back(x);
      for (const edge& x : rf_edges(s, c, false)) e.push_back(x);
      for (const edge& x : co_fr_edges(s, c.co, c.rf, s.reads)) e.push_back(x);
      return check(e, "acyclic(po | so | rf | co | fr)");
    }
    // Causal memory (Ahamad, Neiger, Burns, Kohli, Hutto 1995): each process sees the writes in an
    // order that respects causality, (po | rf)+, here with the locks' order too.
    case model::causal: return views(s, c, true, want_cycle);
    // PRAM, or FIFO, consistency (Lipton & Sandberg 1988; Ahamad et al.'s formulation): each process
    // sees every process's writes in that process's program order; with the locks' order.
    case model::pram: return views(s, c, false, want_cycle);
    // Weak ordering (Dubois, Scheurich & Briggs 1986): accesses to synchronisation variables (locks,
    // barriers) are sequentially consistent and each is a full fence; data accesses between them
    // are unordered; memory is coherent.
    case model::weak: {
      verdict v = check(uniproc(s, c), "uniproc: acyclic(po-loc | rf | co | fr)");
      if (!v.ok) return v;
      return check(ordered(s, c, false), "acyclic(ppo | so | rfe | co | fr), ppo: po with a synchronisation at either end");
    }
    // Eager release consistency: RCsc (Gharachorloo et al. 1990). An access waits for the acquires
    // before it; a release waits for the accesses before it; synchronisation is sequentially
    // consistent; memory is coherent. A barrier is an acquire and a release.
    case model::eager_release: {
      verdict v = check(uniproc(s, c), "uniproc: acyclic(po-loc | rf | co | fr)");
      if (!v.ok) return v;
      return check(ordered(s, c, true), "acyclic(ppo | so | rfe | co | fr), ppo: po from an acquire, to a release, or between synchronisations");
    }
    // Lazy release consistency (Keleher, Cox & Zwaenepoel 1992): a write reaches a process only
    // along happens-before-1, (po | so)+; a racy read may return any write it does not precede and
    // that no later write hides. No coherence for racy reads.
    case model::lazy_release: return visible(s, c, false, want_cycle);
    // Entry consistency (Bershad, Zekauskas & Sawdon 1993, Midway): as lazy release, but acquiring a
    // lock carries only the data bound to it; barriers carry all data (this project's choice).
    case model::entry: return visible(s, c, true, want_cycle);
  }
  return {};
}

bool has_co(model m) {
  return m == model::strict || m == model::sequential || m == model::weak || m == model::eager_release;
}

// Calls f(candidate) for every candidate execution whose lock order respects program order. `f`
// returns false to stop. co is chosen only if `with_co`. With `prune`, rf skips the writes that
// every model forbids a read to return, given the lock order: one the read happens before, and one
// hidden from it by a later write along po, barriers and the locks bound to the location (entry's
// order, the weakest of the models'; the others order at least as much).
void each_candidate(const skeleton& s, bool with_co, bool prune, const std::function<bool(const candidate&)>& f) {
  candidate c;
  c.rf.assign(s.n(), -1);
  std::vector<std::vector<int>> order(s.sections.size());
  for (std::size_t l = 0; l < order.size(); ++l)
    for (std::size_t i = 0; i < s.sections[l].size(); ++i) order[l].push_back(static_cast<int>(i));
  c.co = s.writes;
  for (auto& w : c.co) std::sort(w.begin() + 1, w.end());
  bool stop = false;
  rel hb;
  std::vector<rel> carries(s.writes.size());
  std::vector<int> lock_of(s.n(), -1);  // per release event: its lock
  for (std::size_t l = 0; l < s.sections.size(); ++l)
    for (const section& x : s.sections[l]) lock_of[static_cast<size_t>(x.rel)] = static_cast<int>(l);

  std::function<void(std::size_t)> co_of = [&](std::size_t loc) {
    if (stop) return;
    if (loc == c.co.size()) {
      stop = !f(c);
      return;
    }
    do co_of(loc + 1);
    while (!stop && std::next_permutation(c.co[loc].begin() + 1, c.co[loc].end()));
  };
  std::function<void(std::size_t)> rf_of = [&](std::size_t i) {
    if (stop) return;
    if (i == s.reads.size()) {
      if (with_co) co_of(0);
      else
        stop = !f(c);
      return;
    }
    const int r = s.reads[i];
    const auto& writes = s.writes[static_cast<size_t>(s.ev[static_cast<size_t>(r)].loc)];
    for (int w : writes) {
      if (s.po.has(r, w)) continue;  // a write later in the reader's own program order: never
      if (prune) {
        if (hb.has(r, w)) continue;
        const rel& h = carries[static_cast<size_t>(s.ev[static_cast<size_t>(r)].loc)];
        if (std::any_of(writes.begin(), writes.end(), [&](int w2) { return w2 != w && h.has(w, w2) && h.has(w2, r); })) continue;
      }
      c.rf[static_cast<size_t>(r)] = w;
      rf_of(i + 1);
    }
  };
  // Each lock's sections in an order that keeps a process's own sections in program order.
  std::function<void(std::size_t, std::size_t)> so_of = [&](std::size_t lock, std::size_t placed) {
    if (stop) return;
    if (lock == order.size()) {
      c.so.clear();
      for (std::size_t l = 0; l < order.size(); ++l)
        for (std::size_t i = 0; i < order[l].size(); ++i)
          for (std::size_t j = i + 1; j < order[l].size(); ++j) {
            const section& a = s.sections[l][static_cast<size_t>(order[l][i])];
            const section& b = s.sections[l][static_cast<size_t>(order[l][j])];
            if (!(a.shared && b.shared)) c.so.push_back({a.rel, b.acq, "so"});
          }
      rel ps = s.po;
      for (const edge& e : c.so) ps.add(e.from, e.to);
      if (!ps.acyclic()) return;
      if (prune) {
        hb = happens_before(s, c, [](const edge&) { return true; });
        for (std::size_t loc = 0; loc < carries.size(); ++loc)
          carries[loc] = happens_before(s, c, [&](const edge& e) { return lock_of[static_cast<size_t>(e.from)] == s.p->bound_lock[loc]; });
      }
      rf_of(0);
      return;
    }
    const auto& secs = s.sections[lock];
    if (placed == secs.size()) return so_of(lock + 1, 0);
    for (std::size_t i = placed; i < secs.size(); ++i) {
      std::swap(order[lock][placed], order[lock][i]);
      const section& next = secs[static_cast<size_t>(order[lock][placed])];
      bool first = true;  // no section still unplaced comes before it in program order
      for (std::size_t j = placed + 1; j < secs.size(); ++j)
        first = first && !s.po.has(secs[static_cast<size_t>(order[lock][j])].acq, next.acq);
      if (first) so_of(lock, placed + 1);
      std::swap(order[lock][placed], order[lock][i]);
    }
  };
  so_of(0, 0);
}

execution make_execution(const skeleton& s, const candidate& c, const outcome& o, verdict v) {
  execution x;
  x.events = s.ev;
  for (int r : s.reads) x.events[static_cast<size_t>(r)].val = s.ev[static_cast<size_t>(c.rf[static_cast<size_t>(r)])].val;
  x.result = o;
  x.rf = rf_edges(s, c, false);
  x.cycle = std::move(v.cycle);
  x.axiom = std::move(v.axiom);
  return x;
}

}  // namespace

const std::vector<model>& all_models() {
  static const std::vector<model> all{model::strict, model::sequential, model::causal, model::pram,
                                      model::weak, model::eager_release, model::lazy_release, model::entry};
  return all;
}

const char* name(model m) {
  switch (m) {
    case model::strict: return "strict";
    case model::sequential: return "sequential";
    case model::causal: return "causal";
    case model::pram: return "pram";
    case model::weak: return "weak";
    case model::eager_release: return "eager-release";
    case model::lazy_release: return "lazy-release";
    case model::entry: return "entry";
  }
  return "?";
}

const char* key(model m) {
  switch (m) {
    case model::strict: return "Strict";
    case model::sequential: return "SC";
    case model::causal: return "Causal";
    case model::pram: return "PRAM";
    case model::weak: return "WO";
    case model::eager_release: return "ERC";
    case model::lazy_release: return "LRC";
    case model::entry: return "EC";
  }
  return "?";
}

std::optional<model> parse_model(const std::string& s) {
  for (model m : all_models())
    if (s == name(m) || s == key(m)) return m;
  if (s == "fifo") return model::pram;
  return std::nullopt;
}

const char* definition(model m) {
  switch (m) {
    case model::strict: return "a read returns the latest write in real time; over litmus outcomes, which carry no time, the same sets as sequential (Tanenbaum & van Steen)";
    case model::sequential: return "acyclic(po | so | rf | co | fr) (Lamport 1979; Shasha & Snir 1988)";
    case model::causal: return "each process sees all writes in an order extending (po | rf | so)+ (Ahamad et al. 1995)";
    case model::pram: return "each process sees all writes in an order extending (po | so)+ (Lipton & Sandberg 1988)";
    case model::weak: return "uniproc, and acyclic(ppo | so | rfe | co | fr) with a fence at every synchronisation (Dubois, Scheurich & Briggs 1986)";
    case model::eager_release: return "uniproc, and acyclic(ppo | so | rfe | co | fr), ppo from acquires and to releases (RCsc, Gharachorloo et al. 1990)";
    case model::lazy_release: return "a read returns a write it does not happen before and that no write hides along hb = (po | so)+ (Keleher, Cox & Zwaenepoel 1992)";
    case model::entry: return "as lazy release, but a lock carries only the data bound to it; barriers carry all (Bershad, Zekauskas & Sawdon 1993)";
  }
  return "?";
}

std::set<outcome> allowed(const program& p, model m) {
  const skeleton s = build(p);
  std::set<outcome> out;
  // co is enumerated inside the check so that a (so, rf) whose outcome is known is skipped at once.
  each_candidate(s, false, true, [&](const candidate& c0) {
    const outcome o = result_of(s, c0);
    if (out.count(o)) return true;
    if (!has_co(m)) {
      if (consistent(s, c0, m, false).ok) out.insert(o);
      return true;
    }
    candidate c = c0;
    std::function<bool(std::size_t)> co_of = [&](std::size_t loc) -> bool {
      if (loc == c.co.size()) return consistent(s, c, m, false).ok;
      do {
        if (co_of(loc + 1)) return true;
      } while (std::next_permutation(c.co[loc].begin() + 1, c.co[loc].end()));
      return false;
    };
    if (co_of(0)) out.insert(o);
    return true;
  });
  return out;
}

explanation explain(const program& p, model m, const outcome& o) {
  const skeleton s = build(p);
  explanation ex;
  std::map<std::pair<std::vector<int>, std::vector<std::pair<int, int>>>, std::size_t> shown;  // (rf, so) -> its execution
  each_candidate(s, has_co(m), false, [&](const candidate& c) {
    const outcome r = result_of(s, c);
    if (r != o) return true;
    ++ex.candidates;
    verdict v = consistent(s, c, m, true);
    if (v.ok) {
      ex.allowed = true;
      ex.executions = {make_execution(s, c, r, std::move(v))};
      return false;
    }
    // One execution per choice of rf and lock order; of its co orders, the clearest cycle.
    std::vector<std::pair<int, int>> so;
    for (const edge& e : c.so) so.emplace_back(e.from, e.to);
    const auto choice = std::make_pair(c.rf, so);
    auto known = shown.find(choice);
    if (known == shown.end()) {
      shown.emplace(choice, ex.executions.size());
      ex.executions.push_back(make_execution(s, c, r, std::move(v)));
    } else if (clearer(s, v.cycle, ex.executions[known->second].cycle)) {
      ex.executions[known->second] = make_execution(s, c, r, std::move(v));
    }
    return true;
  });
  return ex;
}

std::string show_cycle(const execution& x, const std::string& indent) {
  std::string out;
  auto text = [&](int e) {
    const event& v = x.events[static_cast<size_t>(e)];
    std::string t = v.text;
    if (v.k == event::kind::read) t += "  (reads " + std::to_string(v.val) + ")";
    return t;
  };
  if (x.cycle.empty()) return out;
  out += indent + text(x.cycle.front().from) + "\n";
  for (const edge& e : x.cycle) out += indent + "  --" + e.kind + "-->  " + text(e.to) + "\n";
  return out;
}

std::string dot(const program& p, const execution& x, model m) {
  auto q = [](std::string s) {
    std::string o;
    for (char ch : s) o += ch == '"' ? std::string("\\\"") : std::string(1, ch);
    return "\"" + o + "\"";
  };
  std::string out = "digraph " + q(p.id) + " {\n  label=" + q(p.id + " " + show(x.result) + " under " + name(m) + ": " + x.axiom) +
                    ";\n  labelloc=t;\n  node [shape=box, fontname=monospace];\n";
  std::map<int, std::vector<int>> by_proc;
  for (std::size_t e = 0; e < x.events.size(); ++e) by_proc[x.events[e].proc].push_back(static_cast<int>(e));
  for (const auto& [proc, evs] : by_proc) {
    const bool cluster = proc >= 0;
    if (cluster) out += "  subgraph cluster_" + std::to_string(proc) + " {\n    label=" + q(proc < static_cast<int>(p.procs.size()) ? "P" + std::to_string(proc) : "final") + ";\n";
    for (int e : evs) {
      const event& v = x.events[static_cast<size_t>(e)];
      std::string t = v.text.substr(v.text.find(": ") == std::string::npos ? 0 : v.text.find(": ") + 2);
      if (v.k == event::kind::init) t = v.text;
      if (v.k == event::kind::read) t += " (" + std::to_string(v.val) + ")";
      out += std::string(cluster ? "    " : "  ") + "e" + std::to_string(e) + " [label=" + q(t) + "];\n";
    }
    if (cluster) {
      out += "  }\n";
    }
  }
  auto in_cycle = [&](int a, int b) {
    return std::any_of(x.cycle.begin(), x.cycle.end(), [&](const edge& e) { return e.from == a && e.to == b; });
  };
  for (const auto& [proc, evs] : by_proc)
    if (proc >= 0)
      for (std::size_t i = 0; i + 1 < evs.size(); ++i)
        if (!in_cycle(evs[i], evs[i + 1]))
          out += "  e" + std::to_string(evs[i]) + " -> e" + std::to_string(evs[i + 1]) + " [label=po, color=gray, fontcolor=gray];\n";
  for (const edge& e : x.rf)
    if (!in_cycle(e.from, e.to))
      out += "  e" + std::to_string(e.from) + " -> e" + std::to_string(e.to) + " [label=rf, color=blue, fontcolor=blue];\n";
  for (const edge& e : x.cycle)
    out += "  e" + std::to_string(e.from) + " -> e" + std::to_string(e.to) + " [label=" + q(e.kind) + ", color=red, fontcolor=red, penwidth=2];\n";
  return out + "}\n";
}

}  // namespace litmus::oracle
