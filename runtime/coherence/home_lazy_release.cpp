// home_lazy_release.cpp: home-based lazy release consistency (HLRC: Zhou, Iftode and Li, OSDI 1996),
// the default protocol of lazy release (DSM_LAZY=home) and of entry consistency's unbound data.
//
// Intervals, vector times and write notices are those of TreadMarks (intervals.hpp): a rank's
// execution is cut into intervals at releases, acquires and barriers, and the notices of the
// intervals an acquirer has not seen travel with the lock token and with barriers. What differs is
// where the data lives. Every unit has a home (homes.hpp, DSM_HOME), which keeps its master copy:
//
// - A write by a rank that is not the unit's home makes a twin. When the interval closes, the rank
//   encodes the diff and drops the twin; the diff is sent to the home, which applies it, at the
//   latest when the interval becomes visible to another rank (the rank passes a lock token or
//   arrives at a barrier). A token that goes to the home carries the diff itself.
// - The home writes its units in place: no twin, no diff.
// - A rank that learns a notice for a unit it holds a copy of drops the copy (the home keeps its
//   own). Its next access fetches the whole unit from the home in one round trip, with up to
//   DSM_PREFETCH - 1 following invalid units of the same home. The request names the diffs the
//   copy must include; a home that has not applied them all yet keeps the request until it has.
//   (The home itself waits the same way when it learns of a diff before the diff arrives.)
// - Nothing is garbage-collected: a diff is dropped once sent, and a barrier drops the intervals
//   every rank now knows.
//
// Sharing is learned from this traffic: the home's copyset is the set of ranks that fetched the unit
// since the home last wrote it. A unit that no other rank holds (a private unit) stays writable at its
// home across releases and barriers: no fault, no notice. The home takes write access away when a rank
// fetches the unit (before copying it, so every later write faults and is announced), announces its
// writes with a notice at the next release, and forgets the copyset there: every copy holder drops
// its copy when it learns that notice, and the unit is private again until someone fetches it. As
// allocated, every rank reads a unit's zeros without asking, so the home's first writes are announced
// once. A unit written by a rank other than its home is shared by definition: its writer twins it.
// A node-mate copies the unit straight from the home's memory instead of fetching it, private units
// included: it enters itself in the home's node-local directory and counts the copy first, and the
// home announces the units taken at its next release (announce_taken; coherence/node_homes.hpp).
//
// Data with the lock: a token passed to a rank that held a copy of a unit the token's notices name,
// from the unit's home, carries the unit (if the home has applied every diff those notices name), so
// the acquirer need not fetch it. With the diff a non-home writer sends in a token to the home, a
// lock-protected counter costs the request and the token.
//
// Data with the barrier: a home that wrote a unit since the last barrier sends it with its barrier
// arrival to each rank of another node whose copy the write's notice drops, if that rank has pushes
// left (8 at its first fetch; put_pushes); the merge routes it into that rank's release, which
// installs it instead of fetching it after the barrier, if it holds every diff the copy must
// (take_offered). The push that leaves a reader 2 is a probe: installed without access, so that
// the reader's next access faults here, with no message (take_probe), and its next barrier arrival
// renews the pushes (twice as many as last time, up to 64 left; renew_pushes). A reader that goes
// on reading is never fetched from again; one that stops costs at most the pushes it has left.
// While a reader has pushes left, the home writes the unit without faults and finds its writes by
// comparing it with its bytes at the last close (streamed_). A Jacobi edge row then costs no
// message of its own between hosts, and its home no fault.
//
// Threads: misses, acquires, releases and barriers on the application thread (op_mu); requests and
// diffs on the engine (state_mu). token_for runs on either, with state_mu.
#include <algorithm>
#include <cstring>
#include <memory>
#include <span>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "base/invariant.hpp"
#include "base/log.hpp"
#include "base/trace.hpp"
#include "coherence/homes.hpp"
#include "coherence/intervals.hpp"
#include "coherence/node_homes.hpp"
#include "coherence/protocol.hpp"
#include "memory/diff.hpp"
#include "memory/global_space.hpp"
#include "transport/bulk.hpp"

namespace dsm::rt {
namespace {

// (writer, interval): a diff the copy must include.
struct version {
  std::int32_t writer;
  std::uint32_t index;
};
using versions = std::vector<version>;

// Raises v's entry for writer to at least index.
void note_version(versions& v, int writer, std::uint32_t index) {
  for (version& x : v) {
    if (x.writer == writer) {
      x.index = std::max(x.index, index);
      return;
    }
  }
  v.push_back({writer, index});
}

// True if `have` includes every diff `need` names (interval 0 names none).
bool covers(const versions& have, const versions& need) {
  for (const version& n : need) {
    bool ok = n.index == 0;
    for (const version& h : have) ok = ok || (h.writer == n.writer && h.index >= n.index);
    if (!ok) return false;
  }
  return true;
}

void put_versions(wire_writer& w, const versions& v) {
  w.put(static_cast<std::uint32_t>(v.size()));
  for (const version& x : v) {
    w.put(x.writer);
    w.put(x.index);
  }
}

versions get_versions(wire_reader& r, int ranks) {
  const std::uint32_t n = r.get<std::uint32_t>();
  if (n > static_cast<std::uint32_t>(ranks)) fatal("home-based lazy release: %u versions for %d ranks", n, ranks);
  versions v(n);
  for (version& x : v) {
    x.writer = r.get<std::int32_t>();
    x.index = r.get<std::uint32_t>();
    if (x.writer < 0 || x.writer >= ranks) fatal("home-based lazy release: a version of rank %d", x.writer);
  }
  return v;
}

class home_lazy_release final : public protocol, public sync_payloads {
 public:
  home_lazy_release(context& ctx, const protocol_parts& parts, const bound_filter* bound)
      : ctx_(ctx), node_homes_(parts.homes), bound_(bound), homes_(ctx, parts), n_(ctx.ranks), me_(ctx.rank), log_(n_, me_),
        at_last_barrier_(static_cast<size_t>(n_), 0),
        prefetch_(std::max<std::uint64_t>(1, std::min<std::uint64_t>(ctx.opt.prefetch, ctx.net->max_payload() / ctx.space->unit()))) {}

  // ---- detection
  void read_miss(std::uint64_t u) override {
    std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
    if (usable(u, false)) return;
    bump(ctx_.stats.read_misses);
    validate(u);
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    ctx_.table->map(u);
  }

  void write_miss(std::uint64_t u) override {
    std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
    if (usable(u, true)) return;
    bump(ctx_.stats.write_misses);
    const int home = homes_.resolve(u);
    bool invalid;
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      invalid = ctx_.table->state(u) == holding::invalid;
    }
    if (invalid) validate(u);
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    if (home == me_) {
      // In place. A unit no other node holds is private from here on: no fault until a rank of
      // another node fetches it. Node-mates' copies are told at the release (announce_taken).
      // Entry consistency: a unit that holds bound data and has copies is twinned at its home
      // instead, so that writes to the bound bytes alone (which travel with their locks) announce
      // nothing.
      const bool bound = bound_ != nullptr && bound_->touches(u);
      const bool alone = !shared_remotely(u) && !(bound && node_homes_ && node_homes_->has_copies(u));
      if (alone) {
        go_private(u);
      } else {
        if (node_homes_) node_homes_->begin_change(u);
        ctx_.table->set_state(u, holding::dirty);
      }
      ctx_.table->map(u);
      global_space::prefault(ctx_.space->app_unit(u), ctx_.table->extent(u));  // its first write, often
      if (alone) return;
      dirty_.push_back(u);
      if (!bound) return;
    } else {
      ctx_.table->set_state(u, holding::dirty);
      ctx_.table->map(u);
      dirty_.push_back(u);
    }
    auto& twin = twins_[u];
    if (!twin) twin = std::make_unique<std::byte[]>(ctx_.space->unit());
    std::memcpy(twin.get(), ctx_.space->runtime_unit(u), ctx_.table->extent(u));
    bump(ctx_.stats.twins_created);
    DSM_TRACE_NOTE(twin, u);
    account();
  }

  // ---- synchronisation
  sync_payloads* payloads() override { return this; }

  void on_release(std::uint64_t) override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    close_interval();
  }
  void on_barrier() override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    close_interval();
  }

  std::vector<std::byte> acquire_request() override {
    close_interval();  // writes before an acquire belong to the interval it ends
    wire_writer w;
    for (auto v : log_.vc()) w.put(v);
    return std::move(w.out);
  }

  // The token: [u32 bytes][intervals][u32 n][diffs for `to` as its home][u32 n][units for `to`].
  std::vector<std::byte> token_for(int to, std::span<const std::byte> request) override {
    wire_reader r{request, 0, "lock request"};
    std::vector<std::uint32_t> theirs(static_cast<size_t>(n_));
    for (auto& v : theirs) v = r.get<std::uint32_t>();
    wire_writer ivs;
    log_.put_missing(ivs, theirs);
    wire_writer w;
    w.put(static_cast<std::uint32_t>(ivs.out.size()));
    w.put_bytes(ivs.out);
    // Every diff of an interval this token makes visible goes to its home now; those whose home
    // is the acquirer go in the token.
    const std::vector<outgoing> mine = send_unsent(to);
    w.put(static_cast<std::uint32_t>(mine.size()));
    for (const outgoing& d : mine) {
      w.put(d.u);
      w.put(d.index);
      w.put(d.prev);
      w.put(static_cast<std::uint32_t>(d.diff.size()));
      w.put_bytes(d.diff);
    }
    put_units_for(w, to, theirs);
    return std::move(w.out);
  }

  void on_token(int from, std::span<const std::byte> token) override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    wire_reader r{token, 0, "lock token"};
    const std::uint32_t iv_bytes = r.get<std::uint32_t>();
    incorporate(r.get_bytes(iv_bytes));
    for (std::uint32_t n = r.get<std::uint32_t>(); n > 0; --n) {
      const auto u = r.get<std::uint64_t>();
      const auto index = r.get<std::uint32_t>();
      const auto prev = r.get<std::uint32_t>();
      const auto bytes = r.get_bytes(r.get<std::uint32_t>());
      check_unit(u, "a diff in a lock token");
      receive_diff(u, from, index, prev, bytes);
    }
    for (std::uint32_t n = r.get<std::uint32_t>(); n > 0; --n) {
      const unit_data d = get_unit(r, "a lock token");
      if (ctx_.table->state(d.u) == holding::invalid && covers(d.applied, needs(d.u))) install(d.u, d.bytes);
    }
    if (!r.done()) fatal("home-based lazy release: a lock token with %zu bytes to spare", token.size() - r.at);
  }

  // The arrival: [u32 bytes][the intervals' arrival (intervals.hpp)], [u32 count] renewals, each
  // [u32 home][u64 unit] (a probed unit read since: take_probe), then the units pushed, each
  // [u32 rank][u8 probe][unit data]. A release: [u32 bytes][the intervals' release], [u32 count]
  // renewals for units of its rank, each [u32 reader][u64 unit], then the units pushed to its rank,
  // each [u8 probe][unit data].
  std::vector<std::byte> barrier_arrival() override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    send_unsent(-1);  // the barrier makes every interval visible
    wire_writer w;
    const std::vector<std::byte> intervals = barrier_arrival_of(log_, 0, at_last_barrier_);
    w.put(static_cast<std::uint32_t>(intervals.size()));
    w.put_bytes(intervals);
    w.put(static_cast<std::uint32_t>(renew_.size()));
    for (const auto& [home, u] : renew_) {
      w.put(static_cast<std::uint32_t>(home));
      w.put(u);
    }
    renew_.clear();
    put_pushes(w);
    return std::move(w.out);
  }

  std::vector<std::vector<std::byte>> barrier_merge(const std::vector<std::vector<std::byte>>& arrivals) override {
    std::vector<std::vector<std::byte>> intervals(arrivals.size());
    std::vector<wire_writer> pushed(static_cast<size_t>(n_)), renewed(static_cast<size_t>(n_));
    std::vector<std::uint32_t> renewals(static_cast<size_t>(n_), 0);
    for (std::size_t s = 0; s < arrivals.size(); ++s) {
      wire_reader r{arrivals[s], 0, "barrier arrival"};
      const std::span<const std::byte> own = r.get_bytes(r.get<std::uint32_t>());
      intervals[s].assign(own.begin(), own.end());
      for (std::uint32_t k = r.get<std::uint32_t>(); k > 0; --k) {
        const auto home = r.get<std::uint32_t>();
        const auto u = r.get<std::uint64_t>();
        if (home >= static_cast<std::uint32_t>(n_)) fatal("home-based lazy release: pushes renewed at rank %u", home);
        check_unit(u, "a barrier arrival's renewal");
        renewed[home].put(static_cast<std::uint32_t>(s));  // (arrivals and releases are by rank)
        renewed[home].put(u);
        ++renewals[home];
      }
      while (!r.done()) {
        const auto to = r.get<std::uint32_t>();
        if (to >= static_cast<std::uint32_t>(n_)) fatal("home-based lazy release: a unit pushed to rank %u", to);
        const std::size_t start = r.at;
        (void)r.get<std::uint8_t>();
        (void)get_unit(r, "a barrier arrival");
        pushed[to].put_bytes(std::span<const std::byte>(arrivals[s]).subspan(start, r.at - start));
      }
    }
    std::vector<std::vector<std::byte>> releases = merge_barrier_arrivals(intervals, n_, ctx_.space->units(), ctx_.opt.gc_bytes);
    for (std::size_t s = 0; s < releases.size(); ++s) {
      wire_writer w;
      w.put(static_cast<std::uint32_t>(releases[s].size()));
      w.put_bytes(releases[s]);
      w.put(renewals[s]);
      w.put_bytes(renewed[s].out);
      w.put_bytes(pushed[s].out);
      releases[s] = std::move(w.out);
    }
    return releases;
  }

  bool on_barrier_release(std::span<const std::byte> release) override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    wire_reader r{release, 0, "barrier release"};  // an empty one is fatal here: "truncated barrier release"
    const std::span<const std::byte> intervals = r.get_bytes(r.get<std::uint32_t>());
    if (intervals.empty()) fatal("lazy release: a barrier release without model data");
    for (std::uint32_t k = r.get<std::uint32_t>(); k > 0; --k) {
      const auto reader = r.get<std::uint32_t>();
      const auto u = r.get<std::uint64_t>();
      check_unit(u, "a barrier release's renewal");
      if (reader >= static_cast<std::uint32_t>(n_)) fatal("home-based lazy release: pushes renewed by rank %u", reader);
      renew_pushes(u, static_cast<int>(reader));
    }
    while (!r.done()) {
      const bool probe = r.get<std::uint8_t>() != 0;
      const unit_data d = get_unit(r, "a barrier release");
      DSM_REQUIRE(ctx_.table->home(d.u) != me_, "unit %llu of rank %d's own pushed to it", static_cast<unsigned long long>(d.u), me_);
      offered_.insert_or_assign(d.u, offer{d, probe});
    }
    incorporate(intervals.subspan(1));
    offered_.clear();
    at_last_barrier_ = log_.vc();  // every rank now knows every interval up to here: none is asked for again
    log_.trim(at_last_barrier_);
    warned_ = false;
    account();
    return false;
  }

  bool needs_barrier_before_free() override { return true; }

  void before_free(std::uint64_t first, std::uint64_t end) override {
    // After the barrier every rank knows every notice: a diff for these units still on its way to
    // this rank as their home must land before the memory is zeroed, not after.
    std::vector<std::uint64_t> waiting;
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      for (const auto& [u, need] : pending_)
        if (u >= first && u < end && ctx_.table->home(u) == me_) waiting.push_back(u);
    }
    for (std::uint64_t u : waiting) validate(u);
  }

  void settle(std::uint64_t first, std::uint64_t end) override {
    for (std::uint64_t u = first; u < end; ++u) {
      bool invalid;
      {
        std::lock_guard<runtime_mutex> g(ctx_.state_mu);
        invalid = ctx_.table->state(u) == holding::invalid;
      }
      if (invalid) validate(u);
    }
  }

  void on_free(std::uint64_t first, std::uint64_t end) override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    auto inside = [&](std::uint64_t u) { return u >= first && u < end; };
    std::erase_if(dirty_, inside);
    std::erase_if(unsent_, [&](const outgoing& d) { return inside(d.u); });
    std::erase_if(twins_, [&](const auto& kv) { return inside(kv.first); });
    std::erase_if(pending_, [&](const auto& kv) { return inside(kv.first); });
    std::erase_if(pushed_, [&](const auto& kv) { return inside(kv.first); });
    std::erase_if(applied_, [&](const auto& kv) { return inside(kv.first); });
    std::erase_if(was_, [&](const auto& kv) { return inside(kv.first); });
    std::erase_if(pushes_, [&](const auto& kv) { return inside(kv.first / static_cast<std::uint64_t>(n_)); });
    std::erase_if(probed_, inside);
    std::erase_if(renew_, [&](const auto& hu) { return inside(hu.second); });
    std::erase_if(held_, [&](const auto& kv) { return inside(kv.first); });
    std::erase_if(credit_, [&](const auto& kv) { return inside(kv.first); });
    std::erase_if(privates_, inside);
    std::erase_if(streamed_, [&](const auto& kv) { return inside(kv.first); });
    std::erase_if(hot_, [&](const auto& kv) { return inside(kv.first); });
    std::erase_if(announce_, inside);
    std::erase_if(look_, inside);
    DSM_REQUIRE(std::none_of(parked_.begin(), parked_.end(), [&](const auto& kv) { return inside(kv.first); }),
                "home-based lazy release: a fetch waits for a unit being freed");
    ctx_.table->reset(first, end);
    if (node_homes_) node_homes_->reset(first, end);
    account();
  }

  // ---- engine
  void handle(const header& h, std::span<const std::byte> payload) override {
    switch (h.type) {
      case msg::home_claim: homes_.handle(h); break;
      case msg::fetch_req: {
        if (!homes_.adopt(h.id)) {
          fatal("rank %d asked rank %d for unit %llu, whose home is rank %d", h.src, me_, static_cast<unsigned long long>(h.id),
                ctx_.table->home(h.id));
        }
        fetch f{h.src, h.id, static_cast<std::uint32_t>(h.arg), {}};
        wire_reader r{payload, 0, "fetch request"};
        for (std::uint32_t k = 0; k < f.count; ++k) f.need.push_back(get_versions(r, n_));
        if (!r.done()) fatal("home-based lazy release: a fetch request with %zu bytes to spare", payload.size() - r.at);
        if (covers(applied_[f.first], f.need[0])) serve(f);
        else parked_[f.first].push_back(std::move(f));
        break;
      }
      case msg::home_diff: {
        // Bulk: fragments from one sender arrive in order, one diff after another.
        std::optional<std::vector<std::byte>> whole = bulk_.add(h, payload);
        if (!whole) break;
        const std::vector<std::byte> bytes = std::move(*whole);
        // [u32 prev][diff]
        wire_reader r{bytes, 0, "home diff"};
        const auto prev = r.get<std::uint32_t>();
        receive_diff(h.id, h.src, static_cast<std::uint32_t>(h.arg), prev, r.get_bytes(bytes.size() - r.at));
        break;
      }
      default: fatal("home-based lazy release: unexpected %s from rank %d", msg_name(h.type), h.src);
    }
  }

  void handle_reply(app_op& op, const header& h, std::span<const std::byte> payload) override {
    if (h.type == msg::home_is) {
      homes_.handle_reply(op, h);
      return;
    }
    DSM_REQUIRE(h.type == msg::fetch_reply, "home-based lazy release: unexpected reply %s", msg_name(h.type));
    reply_.assign(payload.begin(), payload.end());
    op.done = true;
  }

 private:
  // A diff of this rank's, for unit u's home, made in interval `index`; `prev` is the interval of
  // the diff of u this rank sent before it (0: none the home may still lack), which the home applies
  // first.
  struct outgoing {
    std::uint64_t u;
    int home;
    std::uint32_t index;
    std::uint32_t prev;
    std::vector<std::byte> diff;
  };
  // A fetch waiting at the home for the diffs its first unit must include.
  struct fetch {
    int from;
    std::uint64_t first;
    std::uint32_t count;
    std::vector<versions> need;  // per unit
  };
  // A unit's data as its home sends it (fetch replies, lock tokens, barrier releases), on the wire
  // [u64 unit][versions: the diffs it includes][u32 bytes][bytes].
  struct unit_data {
    std::uint64_t u;
    versions applied;
    std::span<const std::byte> bytes;
  };
  // A diff that arrived before the one its writer sent before it.
  struct early_diff {
    int writer;
    std::uint32_t index;
    std::uint32_t prev;
    std::vector<std::byte> diff;
  };

  bool usable(std::uint64_t u, bool write) {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    return ctx_.table->map_if_allowed(u, write);
  }

  void check_unit(std::uint64_t u, const char* what) const {
    if (u >= ctx_.space->units()) fatal("home-based lazy release: %s names unit %llu", what, static_cast<unsigned long long>(u));
  }

  // state_mu held: a unit's record (unit_data), written by its home and read by the others.
  void put_unit(wire_writer& w, std::uint64_t u, const versions& applied) const {
    const std::uint64_t extent = ctx_.table->extent(u);
    w.put(u);
    put_versions(w, applied);
    w.put(static_cast<std::uint32_t>(extent));
    w.put_bytes(std::span<const std::byte>(ctx_.space->runtime_unit(u), extent));
  }

  unit_data get_unit(wire_reader& r, const char* where) const {
    unit_data d{r.get<std::uint64_t>(), {}, {}};
    check_unit(d.u, where);
    d.applied = get_versions(r, n_);
    d.bytes = r.get_bytes(r.get<std::uint32_t>());
    if (d.bytes.size() != ctx_.table->extent(d.u))
      fatal("home-based lazy release: %s carries %zu bytes of unit %llu", where, d.bytes.size(), static_cast<unsigned long long>(d.u));
    return d;
  }

  // Rank r is a node-mate whose memory this rank reads (and r this one's): units pass between
  // them through that memory, not by message.
  bool mate(int r) const { return node_homes_ && node_homes_->readable(r); }

  std::uint64_t push_key(std::uint64_t u, int r) const { return u * static_cast<std::uint64_t>(n_) + static_cast<std::uint64_t>(r); }

  // Home side, state_mu held: reader r's push budget for u (a push_budget*), or null if it has no
  // pushes left.
  auto* pushes_left(std::uint64_t u, int r) {
    const auto b = pushes_.find(push_key(u, r));
    return b == pushes_.end() || b->second.left == 0 ? nullptr : &b->second;
  }

  // Home side, state_mu held, at a barrier arrival (transport/wire.hpp records): the units this
  // rank wrote since the last barrier, for each rank of another node whose copy their notices drop,
  // if it has pushes left; at most kBarrierDataBytes in all. Each goes with the barrier's release
  // to its rank, which installs it instead of fetching it after the barrier (take_offered). A
  // reader gets kPushes at its first fetch, and twice what it used up at a later one, up to
  // kMaxPushes. The push that leaves kProbeLeft is a probe: a reader that reads the unit after it
  // says so in its next arrival, before its pushes run out, and gets more (renew_pushes), so it
  // never fetches again (a fetch in the middle of a sweep, to an engine often asleep, cost
  // 120-800 us here); one that stops reading costs at most the pushes it has left (64). While a
  // reader has pushes left, the home writes the unit without faults (streamed_).
  void put_pushes(wire_writer& w) {
    unit_table::batch protections(*ctx_.table);
    std::vector<std::uint64_t> written;
    log_.for_each_missing(at_last_barrier_, [&](const interval& iv) {
      if (iv.rank != me_) return;
      for (const notice& n : iv.notices)
        if (n.home == me_) written.push_back(n.unit);
    });
    std::sort(written.begin(), written.end());
    written.erase(std::unique(written.begin(), written.end()), written.end());
    std::uint64_t budget = kBarrierDataBytes;
    bool full = false;  // the budget is spent: the rest wait for their readers' fetches
    for (const std::uint64_t u : written) {
      auto was = was_.find(u);
      if (was == was_.end()) {
        unstream(u);
        continue;
      }
      versions applied = applied_[u];
      note_version(applied, me_, log_.vc()[static_cast<size_t>(me_)]);  // and every write of its home's so far
      const std::vector<int> readers = was->second;  // enter() changes it
      bool pushed = false;
      for (const int r : readers) {
        auto* left = pushes_left(u, r);
        if (left == nullptr || mate(r)) continue;
        if (ctx_.table->extent(u) > budget) {
          full = true;
          break;
        }
        budget -= ctx_.table->extent(u);
        --left->left;
        enter(u, r);  // a unit streamed stays private; one that is not is tracked below
        w.put(static_cast<std::uint32_t>(r));
        w.put(static_cast<std::uint8_t>(left->left == kProbeLeft ? 1 : 0));
        put_unit(w, u, applied);
        pushed = true;
      }
      const bool more = std::any_of(readers.begin(), readers.end(), [&](int r) { return pushes_left(u, r) != nullptr; });
      if (more) {
        stream(u);
      } else {
        unstream(u);
        if (pushed) track(u);  // others hold copies now: a private unit's next write must fault
      }
      DSM_INVARIANT(!pushed || streamed_.count(u) != 0 || ctx_.table->state(u) != holding::owner_sole,
                    "home-based lazy release: unit %llu pushed to its readers stays private at its home, unstreamed",
                    static_cast<unsigned long long>(u));
      if (full) break;
    }
  }

  // Home side, state_mu held, at a barrier release: the reader read u since a probe push (it
  // faulted on it, take_probe), so it gets twice as many pushes as last time, up to kMaxPushes
  // left. A reader whose pushes ran out meanwhile (it read late) fetches again, as before.
  void renew_pushes(std::uint64_t u, int reader) {
    auto* b = pushes_left(u, reader);
    if (b == nullptr) return;
    b->given = static_cast<std::uint8_t>(std::min<unsigned>(2u * b->given, kMaxPushes));
    b->left = static_cast<std::uint8_t>(std::min<unsigned>(b->left + b->given, kMaxPushes));
  }

  // Home side, state_mu held: u is pushed at barriers. Its home writes it in place without faults,
  // and finds its writes by comparing it with a copy at each close (announce_streamed): on this
  // machine a write fault and the downgrade at the release cost far more than the comparison. Not
  // a unit that holds bound data (entry consistency's home twins those).
  void stream(std::uint64_t u) {
    if (bound_ != nullptr && bound_->touches(u)) return;
    auto [s, fresh] = streamed_.try_emplace(u);
    if (!fresh) return;
    s->second = std::make_unique<std::byte[]>(ctx_.space->unit());
    std::memcpy(s->second.get(), ctx_.space->runtime_unit(u), ctx_.table->extent(u));
    if (ctx_.table->state(u) != holding::owner_sole) go_private(u);
  }

  // Home side, state_mu held: u is no longer pushed; its next write faults and is announced.
  void unstream(std::uint64_t u) {
    if (streamed_.erase(u) != 0 && ctx_.table->state(u) == holding::owner_sole) track(u);
  }

  // Home side, state_mu held, closing an interval: a streamed unit that changed since the last
  // close gets a notice, and its copies are dropped (those pushed at the next barrier come back).
  // One that a fetch or another writer's diff made tracked since the last close leaves the stream
  // with a notice: its home may have written it before, without a fault. If the home wrote it
  // after that too (it is dirty), the close announces it with the other writes, and decides from
  // its copyset whether it stays tracked: the copyset must not be forgotten here first, or the unit
  // would turn private while its readers hold copies.
  void announce_streamed(std::vector<notice>& notices) {
    for (auto s = streamed_.begin(); s != streamed_.end();) {
      const std::uint64_t u = s->first;
      const std::uint64_t extent = ctx_.table->extent(u);
      const bool left = ctx_.table->state(u) != holding::owner_sole;
      if (left && ctx_.table->state(u) == holding::dirty) {  // written since it faulted: announced with the other writes
        s = streamed_.erase(s);
        continue;
      }
      if (left || std::memcmp(s->second.get(), ctx_.space->runtime_unit(u), extent) != 0) {
        forget_copies(u, -1);
        notices.push_back({u, me_});
      }
      if (left) {
        s = streamed_.erase(s);
        continue;
      }
      std::memcpy(s->second.get(), ctx_.space->runtime_unit(u), extent);
      ++s;
    }
  }

  // state_mu held, incorporating a barrier's release: installs the unit its home pushed with the
  // release, if it includes every diff this rank's copy must (the notices learned so far, and this
  // rank's own diffs); the release's later notices of u are checked again.
  // A probe push, or any push while the last probe is unread, leaves the unit without access
  // (probed_): the reader's next access faults here, and its next arrival renews the pushes.
  bool take_offered(std::uint64_t u) {
    auto o = offered_.find(u);
    if (o == offered_.end()) return false;
    versions due;
    if (auto p = pending_.find(u); p != pending_.end()) due = p->second;
    if (auto s = pushed_.find(u); s != pushed_.end()) note_version(due, me_, s->second);
    if (!covers(o->second.data.applied, due)) return false;
    const bool probed = o->second.probe || probed_.count(u) != 0;
    install(u, o->second.data.bytes);
    if (probed) {
      ctx_.table->set_state(u, holding::invalid);
      probed_.insert(u);
    }
    return true;
  }

  // Application thread, state_mu held: u was installed by a probe push and not accessed since.
  // It becomes a copy again, with no message; its home hears at the next barrier that it is read.
  bool take_probe(std::uint64_t u) {
    if (probed_.erase(u) == 0) return false;
    ctx_.table->set_state(u, holding::copy);
    renew_.emplace_back(ctx_.table->home(u), u);
    bump(ctx_.stats.pushes_renewed);
    return true;
  }

  // Home side, state_mu held: a rank may hold a copy of u that node shared memory does not track
  // (it fetched u by message, or read u's zeros as allocated).
  bool shared_remotely(std::uint64_t u) const {
    return n_ > 1 && (!ctx_.table->copies_known(u) || ctx_.table->copies_besides(u, me_));
  }

  // Home side, state_mu held: u is written in place without faults from now on. Node-mates that
  // hold copies stay entered, so the next release announces u: the home writes a unit its mates
  // read, and keeps it writable for kHot such releases.
  void go_private(std::uint64_t u) {
    ctx_.table->set_state(u, holding::owner_sole);
    privates_.insert(u);
    if (node_homes_ && node_homes_->force_private(u)) {
      hot_[u] = kHot;
      look_.push_back(u);
    }
  }

  // Home side, state_mu held, application thread (at the close of an interval, so the home writes
  // nothing meanwhile): the private units node-mates copied since the last close (try_take), and
  // those the engine made tracked after they did, get a notice in the closing interval, since the
  // home may have written them after the copy. A unit stays private for kHot such closes after
  // the home wrote it while its mates held copies; otherwise it is tracked from now on, so that a
  // unit only read is announced once.
  void announce_taken(std::vector<notice>& notices) {
    for (const std::uint64_t u : announce_) notices.push_back({u, me_});
    announce_.clear();
    if (!node_homes_) return;
    std::vector<std::uint64_t> look = std::move(look_);
    look_.clear();
    if (!node_homes_->taken_since(taken_seen_, look)) {
      look.assign(privates_.begin(), privates_.end());  // the log cannot say which: every private unit
    }
    for (const std::uint64_t u : look) {
      auto it = privates_.find(u);
      if (it == privates_.end()) continue;
      if (ctx_.table->state(u) != holding::owner_sole) {
        privates_.erase(it);
        continue;
      }
      if (!node_homes_->forget_taken(u)) continue;
      notices.push_back({u, me_});
      auto h = hot_.find(u);
      if (h != hot_.end() && h->second > 0) {
        --h->second;
        continue;
      }
      if (h != hot_.end()) hot_.erase(h);
      ctx_.table->set_state(u, holding::copy);  // in the caller's batch, before the application runs again
      node_homes_->make_tracked(u);
      privates_.erase(it);
    }
  }

  // Home side, state_mu held: rank r gets a copy of u. Write access goes first, so that every
  // write made after the copy faults and is announced.
  void share(std::uint64_t u, int r) {
    track(u);
    enter(u, r);
  }

  // Home side, state_mu held: rank r holds a copy of u from now on.
  void enter(std::uint64_t u, int r) {
    ctx_.table->add_copy(u, r);
    auto w = was_.find(u);
    if (w != was_.end()) std::erase(w->second, r);
  }

  // Home side, state_mu held: a private unit takes a fault at its next write again.
  void track(std::uint64_t u) {
    if (ctx_.table->state(u) == holding::owner_sole) track_all(std::span<const std::uint64_t>(&u, 1));
  }

  // Home side, state_mu held: private units take a fault at their next write again (one mprotect
  // per run of them).
  void track_all(std::span<const std::uint64_t> units) {
    {
      unit_table::batch protections(*ctx_.table);
      for (const std::uint64_t u : units) {
        ctx_.table->set_state(u, holding::copy);
        privates_.erase(u);
      }
    }
    // After the protection: node-mates may copy them from now on. Those that took one while they
    // were private are told at the next release.
    if (node_homes_)
      for (const std::uint64_t u : units)
        if (node_homes_->make_tracked(u)) announce_.push_back(u);
  }

  // Home side, state_mu held: every copy but `keep`'s is about to be dropped (a notice for u is on
  // its way to its holders); remember them, for the data a token may carry, and forget them.
  void forget_copies(std::uint64_t u, int keep) {
    std::vector<int>& was = was_[u];
    auto remember = [&](int c) {
      if (c != me_ && c != keep && std::find(was.begin(), was.end(), c) == was.end()) was.push_back(c);
    };
    ctx_.table->for_each_copy(u, remember);
    if (node_homes_) {
      node_homes_->for_each_copy(u, remember);
      node_homes_->forget_copies(u, keep);
    }
    if (was.empty()) was_.erase(u);
    ctx_.table->clear_copyset(u);
    ctx_.table->add_copy(u, me_);
    if (keep >= 0) ctx_.table->add_copy(u, keep);
    ctx_.table->set_copies_known(u);
  }

  // state_mu held: closes the open interval. Home writes become notices; other writes become diffs,
  // kept until the interval is visible (send_unsent). `announce`: with the notices of the private
  // units node-mates took (not while incorporating a barrier's release: the interval would begin
  // after the barrier that every rank has just counted as known).
  void close_interval(bool announce = true) {
    unit_table::batch protections(*ctx_.table);  // one mprotect per run of units
    std::vector<notice> notices;
    if (announce) {
      announce_taken(notices);
      announce_streamed(notices);
    }
    if (dirty_.empty() && notices.empty()) return;
    DSM_INVARIANT(log_.consistent(), "lazy release: the vector time does not match the interval log");
    const std::size_t first_new = unsent_.size();
    for (std::uint64_t u : dirty_) {
      DSM_INVARIANT(ctx_.table->state(u) == holding::dirty, "home-based lazy release: unit %llu written in this interval is not dirty",
                    static_cast<unsigned long long>(u));
      const int home = ctx_.table->home(u);
      if (bound_ != nullptr && bound_->covers(u)) {  // every byte travels with locks: nothing to announce
        ctx_.table->set_state(u, holding::copy);
        if (home == me_ && node_homes_) node_homes_->end_change(u);
        twins_.erase(u);
        continue;
      }
      auto t = twins_.find(u);
      if (home == me_ && t != twins_.end()) {  // entry consistency: did any unbound byte change?
        bound_->mask(u, t->second.get());
        const bool same = std::memcmp(t->second.get(), ctx_.space->runtime_unit(u), ctx_.table->extent(u)) == 0;
        twins_.erase(t);
        if (same) {
          ctx_.table->set_state(u, holding::copy);  // the copies stay valid, and shared
          if (node_homes_) node_homes_->end_change(u);
          continue;
        }
      }
      if (home == me_) {
        // Every copy is dropped when its holder learns this notice. A unit that had copies stays
        // read-only, so that its readers may take it again (node-mates straight from this rank's
        // memory); it turns private at its next write if nobody has. One that had none turns
        // private now.
        const bool had = ctx_.table->copies_besides(u, me_) || (node_homes_ && node_homes_->has_copies(u));
        forget_copies(u, -1);
        const bool keep_tracked = had || (node_homes_ && !node_homes_->make_private(u));
        ctx_.table->set_state(u, keep_tracked ? holding::copy : holding::owner_sole);
        if (!keep_tracked) privates_.insert(u);
        if (node_homes_) node_homes_->end_change(u);
        notices.push_back({u, me_});
        continue;
      }
      DSM_REQUIRE(t != twins_.end(), "home-based lazy release: unit %llu written here has no twin", static_cast<unsigned long long>(u));
      ctx_.table->set_state(u, holding::copy);  // read-only first: the bytes must not change while they are compared
      if (bound_ != nullptr) bound_->mask(u, t->second.get());
      std::vector<std::byte> d;
      diff_encode(t->second.get(), ctx_.space->runtime_unit(u), ctx_.table->extent(u), d);
      DSM_INVARIANT(diff_reproduces(d, t->second.get(), ctx_.space->runtime_unit(u), ctx_.table->extent(u)),
                    "the diff of unit %llu does not turn its twin into the unit", static_cast<unsigned long long>(u));
      twins_.erase(t);
      if (d.empty()) continue;  // written back as it was: nothing to announce
      bump(ctx_.stats.diffs_created);
      DSM_TRACE_NOTE(diff_created, u, -1, d.size());
      unsent_.push_back({u, home, 0, 0, std::move(d)});
      notices.push_back({u, home});
    }
    dirty_.clear();
    if (!notices.empty()) {
      // A unit announced as taken may have been written in the interval too: one notice each.
      auto before = [](const notice& a, const notice& b) { return a.unit < b.unit; };
      auto same = [](const notice& a, const notice& b) { return a.unit == b.unit; };
      std::sort(notices.begin(), notices.end(), before);
      notices.erase(std::unique(notices.begin(), notices.end(), same), notices.end());
      const std::uint32_t index = log_.add_own(std::move(notices)).index;
      for (std::size_t i = first_new; i < unsent_.size(); ++i) unsent_[i].index = index;
    }
    account();
  }

  // state_mu held: sends every diff not yet sent to its home, but those for `token_to`, which are
  // returned (to go in the lock token that rank is about to receive).
  std::vector<outgoing> send_unsent(int token_to) {
    std::vector<outgoing> carried;
    for (outgoing& d : unsent_) {
      auto [p, fresh] = pushed_.try_emplace(d.u, 0);
      d.prev = p->second;
      p->second = d.index;
      if (d.home == token_to) {
        carried.push_back(std::move(d));
        continue;
      }
      send_diff(d);
    }
    unsent_.clear();
    account();
    return carried;
  }

  // state_mu held: sends the unsent diffs of u (another rank's notice for u arrived: its next fetch
  // must include them).
  void send_unsent_of(std::uint64_t u) {
    std::erase_if(unsent_, [&](outgoing& d) {
      if (d.u != u) return false;
      auto [p, fresh] = pushed_.try_emplace(u, 0);
      d.prev = p->second;
      p->second = d.index;
      send_diff(d);
      return true;
    });
  }

  void send_diff(const outgoing& d) {
    wire_writer w;
    w.put(d.prev);
    w.put_bytes(d.diff);
    header h{.type = msg::home_diff, .to = inbox::engine, .id = d.u, .arg = d.index};
    ctx_.post_bulk(d.home, h, w.out);
  }

  // Home side, state_mu held: writer's diff of u made in its interval `index`.
  void receive_diff(std::uint64_t u, int writer, std::uint32_t index, std::uint32_t prev, std::span<const std::byte> diff) {
    if (!homes_.adopt(u)) {
      fatal("rank %d sent rank %d a diff of unit %llu, whose home is rank %d", writer, me_, static_cast<unsigned long long>(u),
            ctx_.table->home(u));
    }
    if (!covers(applied_[u], {{writer, prev}})) {  // its predecessor is still on its way
      held_[u].push_back({writer, index, prev, std::vector<std::byte>(diff.begin(), diff.end())});
      return;
    }
    apply_diff(u, writer, index, diff);
    // Diffs that waited for this one.
    for (bool more = true; more;) {
      more = false;
      auto it = held_.find(u);
      if (it == held_.end()) break;
      for (auto e = it->second.begin(); e != it->second.end(); ++e) {
        if (!covers(applied_[u], {{e->writer, e->prev}})) continue;
        early_diff d = std::move(*e);
        it->second.erase(e);
        if (it->second.empty()) held_.erase(it);
        apply_diff(u, d.writer, d.index, d.diff);
        more = true;
        break;
      }
    }
  }

  void apply_diff(std::uint64_t u, int writer, std::uint32_t index, std::span<const std::byte> diff) {
    // Node-mates copy this memory only between changes (while this rank writes u, it is changing).
    const bool bracket = node_homes_ && ctx_.table->state(u) != holding::dirty;
    if (bracket) node_homes_->begin_change(u);
    // Node-mates that took u while private must hear of the home's writes since (no mate enters
    // while the number is odd).
    if (bracket && ctx_.table->state(u) == holding::owner_sole && node_homes_->taken(u)) announce_.push_back(u);
    if (!diff_apply(diff, ctx_.space->runtime_unit(u), ctx_.table->extent(u)))
      fatal("malformed diff of unit %llu from rank %d", static_cast<unsigned long long>(u), writer);
    note_version(applied_[u], writer, index);
    bump(ctx_.stats.diffs_applied);
    DSM_TRACE_NOTE(diff_applied, u, writer, diff.size());
    // Every holder of a copy but the writer drops it when it learns the writer's notice; the writer
    // holds one, so this rank's next write must be announced.
    forget_copies(u, writer);
    track(u);
    if (bracket) node_homes_->end_change(u);
    // The home's own copy, if it waited for this diff.
    auto p = pending_.find(u);
    if (p != pending_.end() && covers(applied_[u], p->second)) {
      pending_.erase(p);
      if (ctx_.table->state(u) == holding::invalid) ctx_.table->set_state(u, holding::copy);
    }
    // Fetches that waited for it.
    auto it = parked_.find(u);
    if (it == parked_.end()) return;
    std::vector<fetch> waiting = std::move(it->second);
    parked_.erase(it);
    for (fetch& f : waiting) {
      if (covers(applied_[u], f.need[0])) serve(f);
      else parked_[u].push_back(std::move(f));
    }
  }

  // Home side, state_mu held: answers a fetch whose first unit is ready, with every unit of the run
  // that is ready too. A fetch by this rank itself (its copy waited for a diff) carries no data.
  void serve(const fetch& f) {
    wire_writer w;
    std::vector<std::uint64_t> units;
    for (std::uint32_t k = 0; k < f.count && f.from != me_; ++k) {
      const std::uint64_t u = f.first + k;
      if (ctx_.table->home(u) != me_ || !covers(applied_[u], f.need[k])) {
        if (k == 0) fatal("home-based lazy release: serving unit %llu before it is ready", static_cast<unsigned long long>(u));
        continue;
      }
      units.push_back(u);
    }
    // The private units among them lose write access, so that a later write faults and is
    // announced. Without bound data, after the reply has gone (the protection waits for every core
    // that ran this process to drop its mappings: 3 us, and 20-25 us when one of them is busy), and
    // a unit that the application wrote between its copy and its protection counts as written
    // after the copy. With bound data (entry consistency), before the copy, one mprotect per run.
    const bool after = bound_ == nullptr;
    std::vector<std::uint64_t> untracked;
    for (const std::uint64_t u : units)
      if (ctx_.table->state(u) == holding::owner_sole) untracked.push_back(u);
    if (!after) track_all(untracked);
    std::vector<std::size_t> sent_at;  // where each untracked unit's bytes are in the reply
    for (const std::uint64_t u : units) {
      enter(u, f.from);
      if (!mate(f.from)) {
        // A reader that read on through all the pushes it was given gets twice as many.
        push_budget& b = pushes_[push_key(u, f.from)];
        b.given = b.given != 0 && b.left == 0 ? static_cast<std::uint8_t>(std::min<unsigned>(2u * b.given, kMaxPushes)) : kPushes;
        b.left = b.given;
      }
      put_unit(w, u, applied_[u]);
      if (after && ctx_.table->state(u) == holding::owner_sole) sent_at.push_back(w.out.size() - ctx_.table->extent(u));
    }
    header reply{.type = msg::fetch_reply, .to = inbox::app, .id = f.first};
    ctx_.post_bulk(f.from, reply, w.out);
    if (!after || untracked.empty()) return;
    track_all(untracked);
    for (std::size_t i = 0; i < untracked.size(); ++i) {
      const std::uint64_t u = untracked[i];
      if (std::memcmp(w.out.data() + sent_at[i], ctx_.space->runtime_unit(u), ctx_.table->extent(u)) == 0) continue;
      // Written after the copy, before the protection: as if that write had faulted now.
      if (node_homes_) node_homes_->begin_change(u);
      ctx_.table->set_state(u, holding::dirty);
      ctx_.table->map(u);
      dirty_.push_back(u);
    }
  }

  // The diffs a copy of u fetched now must include: the notices this rank has not applied, and its
  // own diffs that went to the home (the home's own writes are in its copy already). state_mu held.
  versions needs(std::uint64_t u) const {
    versions v;
    const int home = ctx_.table->home(u);
    if (auto p = pending_.find(u); p != pending_.end())
      for (const version& x : p->second)
        if (x.writer != home) v.push_back(x);
    if (auto s = pushed_.find(u); s != pushed_.end() && home != me_) note_version(v, me_, s->second);
    return v;
  }

  // state_mu held: the unit's data arrived from its home and includes everything needs(u) names.
  // `prefaulted`: its pages are allocated already (validate() does it while the fetch is under way).
  void install(std::uint64_t u, std::span<const std::byte> data, bool prefaulted = false) {
    std::byte* dst = ctx_.space->runtime_unit(u);
    // A fresh page, often; a copy refreshed in place has its page already.
    if (!prefaulted && ctx_.table->state(u) == holding::invalid) global_space::prefault(dst, data.size());
    if (bound_ != nullptr) {
      // Bound bytes travel with their locks: keep this rank's.
      std::vector<std::byte> tmp(data.begin(), data.end());
      bound_->mask(u, tmp.data());
      std::memcpy(dst, tmp.data(), tmp.size());
    } else {
      std::memcpy(dst, data.data(), data.size());
    }
    pending_.erase(u);
    pushed_.erase(u);
    probed_.erase(u);
    ctx_.table->set_state(u, holding::copy);
    bump(ctx_.stats.units_fetched);
    DSM_TRACE_NOTE(fetch, u, ctx_.table->home(u), data.size());
  }

  // state_mu held: copies u straight from its home's memory if the home is a node-mate, the copy
  // there includes everything this one must (nothing but the home's own writes is asked for), and
  // the home is not changing it. No message.
  bool copy_from_mate(std::uint64_t u, int home) {
    if (!mate(home) || !needs(u).empty()) return false;
    const std::uint64_t extent = ctx_.table->extent(u);
    copy_buffer_.resize(extent);
    if (!node_homes_->try_take(u, home, copy_buffer_.data(), extent)) return false;
    install(u, copy_buffer_);
    bump(ctx_.stats.node_copies);
    return true;
  }

  // state_mu held: a node-mate home announced a write to u, which this rank holds a copy of since
  // a miss (on u, or on the unit that brought it): copy the unit again now instead of dropping it.
  // Taking access away costs far more than a copy here (the kernel must flush every processor's
  // TLB), and so does the fault that follows. A copy refreshed kRefreshes times without a miss in
  // between is dropped as usual, so that a reader that has moved on stops costing its home anything.
  bool refresh(std::uint64_t u) {
    auto c = credit_.find(u);
    if (c == credit_.end()) return false;
    if (c->second == 0 || !copy_from_mate(u, ctx_.table->home(u))) {
      credit_.erase(c);
      return false;
    }
    --c->second;
    return true;
  }

  // Application thread, op_mu held: makes the invalid unit u valid.
  void validate(std::uint64_t u) {
    std::uint64_t count = 1;
    int home;
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      if (ctx_.table->state(u) != holding::invalid) return;  // its diffs arrived meanwhile (this rank is its home)
      if (take_probe(u)) return;
      home = ctx_.table->home(u);
      DSM_REQUIRE(home >= 0 && pending_.count(u) != 0, "unit %llu is invalid without write notices", static_cast<unsigned long long>(u));
      if (home != me_ && copy_from_mate(u, home)) {
        credit_[u] = kRefreshes;
        // And the invalid units that follow, of the same home, as a fetch would, mapped with u.
        unit_table::batch protections(*ctx_.table);
        for (std::uint64_t v = u + 1; v < u + prefetch_ && v < ctx_.space->units(); ++v) {
          if (ctx_.table->state(v) != holding::invalid || ctx_.table->home(v) != home || pending_.count(v) == 0) break;
          if (!copy_from_mate(v, home)) break;
          credit_[v] = kRefreshes;  // read soon, most often: refreshed like u (a mprotect costs more)
          ctx_.table->map(v);
        }
        account();
        return;
      }
      wire_writer w;
      put_versions(w, needs(u));
      if (home != me_) {
        // And the invalid units that follow, of the same home, as far as one reply carries them.
        while (count < prefetch_ && u + count < ctx_.space->units()) {
          const std::uint64_t v = u + count;
          if (ctx_.table->state(v) != holding::invalid || ctx_.table->home(v) != home || pending_.count(v) == 0) break;
          put_versions(w, needs(v));
          ++count;
        }
      }
      header req{.type = msg::fetch_req, .to = inbox::engine, .id = u, .arg = count};
      ctx_.post(home, req, w.out);
    }
    // The pages the reply will fill, allocated in one call while it is on its way (a page's first
    // write faults, and populating one costs a few microseconds here).
    if (home != me_) global_space::prefault(ctx_.space->runtime_unit(u), (count - 1) * ctx_.space->unit() + ctx_.table->extent(u + count - 1));
    app_op op;
    op.expect_a = msg::fetch_reply;
    op.id = u;
    ctx_.wait(op, [](const app_op& o) { return o.done; });
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    if (home == me_) {  // the diffs this copy waited for have been applied
      pending_.erase(u);
      if (ctx_.table->state(u) == holding::invalid) ctx_.table->set_state(u, holding::copy);
      return;
    }
    wire_reader r{reply_, 0, "fetch reply"};
    bool got_u = false;
    const bool from_mate = mate(home);  // its next notices refresh the copies
    {
      unit_table::batch protections(*ctx_.table);  // the units that came with u are mapped with it
      while (!r.done()) {
        const unit_data d = get_unit(r, "a fetch reply");  // the home served it: it includes what the request named
        const std::uint64_t v = d.u;
        if (v < u || v >= u + count) fatal("home-based lazy release: a fetch reply with unit %llu", static_cast<unsigned long long>(v));
        install(v, d.bytes, true);
        if (v != u) ctx_.table->map(v);
        if (from_mate) credit_[v] = kRefreshes;
        got_u = got_u || v == u;
      }
    }
    DSM_REQUIRE(got_u, "home-based lazy release: the fetch of unit %llu came back without it", static_cast<unsigned long long>(u));
    reply_.clear();
    account();
  }

  // state_mu held: the write notices of intervals this rank had not seen.
  void incorporate(std::span<const std::byte> bytes) {
    unit_table::batch protections(*ctx_.table);
    close_interval(false);
    wire_reader r{bytes, 0, "write notices"};
    while (!r.done()) {
      interval iv = get_interval(r, n_, ctx_.space->units());
      const int writer = iv.rank;
      const std::uint32_t index = iv.index;
      const std::vector<notice> notices = iv.notices;
      if (!log_.learn(std::move(iv))) continue;
      for (const notice& n : notices) {
        const std::uint64_t u = n.unit;
        if (n.home < 0) fatal("home-based lazy release: a write notice for unit %llu without a home", static_cast<unsigned long long>(u));
        if (ctx_.table->home(u) < 0) ctx_.table->set_home(u, n.home);
        DSM_REQUIRE(ctx_.table->home(u) == n.home, "unit %llu: a notice names home %d, this rank knows home %d",
                    static_cast<unsigned long long>(u), n.home, ctx_.table->home(u));
        if (n.home == me_) {
          // The home's copy is the master: it lacks the diff only while the diff is on its way.
          if (covers(applied_[u], {{writer, index}})) continue;
          note_version(pending_[u], writer, index);
          if (ctx_.table->state(u) != holding::invalid) ctx_.table->set_state(u, holding::invalid);
          continue;
        }
        send_unsent_of(u);  // this rank's own diffs of u must be at the home before it fetches u again
        const bool had_copy = ctx_.table->state(u) != holding::invalid;
        note_version(pending_[u], writer, index);
        if (had_copy && refresh(u)) continue;
        if (take_offered(u)) continue;
        probed_.erase(u);  // its copy is out of date: fetched at the next access
        if (had_copy) {
          ctx_.table->set_state(u, holding::invalid);
          bump(ctx_.stats.invalidations);
          DSM_TRACE_NOTE(invalidate, u, writer);
        }
      }
    }
    DSM_INVARIANT(log_.consistent(), "lazy release: the vector time does not match the interval log");
    account();
  }

  // state_mu held: the units this rank is home of, named by the notices a token carries to `to`,
  // which `to` held a copy of: they go in the token, so that `to` need not fetch them.
  void put_units_for(wire_writer& w, int to, const std::vector<std::uint32_t>& theirs) {
    std::unordered_map<std::uint64_t, versions> named;  // unit -> the notices of other writers
    log_.for_each_missing(theirs, [&](const interval& iv) {
      for (const notice& n : iv.notices) {
        if (n.home != me_) continue;
        versions& v = named[n.unit];
        if (iv.rank != me_) note_version(v, iv.rank, iv.index);
      }
    });
    wire_writer units;
    std::uint32_t count = 0;
    std::uint64_t budget = kTokenDataBytes;
    for (const auto& [u, need] : named) {
      const std::uint64_t extent = ctx_.table->extent(u);
      if (extent > budget || !covers(applied_[u], need)) continue;
      auto w_it = was_.find(u);
      const bool held = ctx_.table->in_copyset(u, to) ||
                        (w_it != was_.end() && std::find(w_it->second.begin(), w_it->second.end(), to) != w_it->second.end());
      if (!held || to == me_) continue;
      share(u, to);
      put_unit(units, u, applied_[u]);
      budget -= extent;
      ++count;
    }
    w.put(count);
    w.put_bytes(units.out);
  }

  // Bytes held for the protocol: twins (and the copies of streamed units), diffs not sent yet,
  // diffs waiting for their predecessors, and intervals.
  void account() {
    std::uint64_t bytes = (twins_.size() + streamed_.size()) * ctx_.space->unit() + log_.bytes();
    for (const outgoing& d : unsent_) bytes += d.diff.size() + 32;
    for (const auto& [u, early] : held_)
      for (const early_diff& d : early) bytes += d.diff.size() + 32;
    ctx_.stats.protocol_bytes.store(bytes, std::memory_order_relaxed);
    // Intervals are dropped only at a barrier: a program that synchronises with locks alone keeps
    // every write notice. Say so once between barriers, long before memory runs out.
    if (!warned_ && bytes > 4 * ctx_.opt.gc_bytes) {
      warned_ = true;
      DSM_LOG(warn,
              "lazy release keeps %llu bytes of twins, diffs and write notices, over 4 x DSM_GC_BYTES (%llu); write "
              "notices are dropped only at dsm::barrier(), so a program that never calls it grows without bound",
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(ctx_.opt.gc_bytes));
    }
  }

  static constexpr std::uint64_t kTokenDataBytes = 64 * 1024;  // unit data one token may carry
  static constexpr std::uint64_t kBarrierDataBytes = 256 * 1024;  // unit data one home pushes per barrier
  static constexpr std::uint8_t kPushes = 8;                    // pushes to a reader at its first fetch
  static constexpr std::uint8_t kMaxPushes = 64;                // ... doubled at each renewal, or fetch after they ran out
  static constexpr std::uint8_t kProbeLeft = 2;                 // the push that leaves this many is a probe
  static constexpr std::uint8_t kRefreshes = 8;                 // refresh() at most this often without a miss
  static constexpr std::uint8_t kHot = 32;                      // closes a unit written while mates read it stays private

  context& ctx_;
  node_homes* node_homes_;  // the node-local fast path for unit data, if in use
  const bound_filter* bound_;  // entry consistency: bytes that travel with locks instead
  home_map homes_;
  const int n_;
  const int me_;
  interval_log log_;
  std::vector<std::uint32_t> at_last_barrier_;  // the vector time every rank had after the last barrier
  const std::uint64_t prefetch_;                 // units one fetch may bring
  std::vector<std::uint64_t> dirty_;             // written in the open interval
  std::unordered_map<std::uint64_t, std::unique_ptr<std::byte[]>> twins_;  // of dirty units homed elsewhere
  std::vector<outgoing> unsent_;                 // diffs of closed intervals not yet sent to their homes
  std::unordered_map<std::uint64_t, std::uint32_t> pushed_;  // unit -> the last interval whose diff went to its home
  std::unordered_map<std::uint64_t, versions> pending_;      // invalid units -> the diffs their next copy must include
  // Home side.
  std::unordered_map<std::uint64_t, versions> applied_;      // unit -> the diffs applied to it, per writer
  std::unordered_map<std::uint64_t, std::vector<int>> was_;  // unit -> ranks whose copies the last notice dropped
  struct push_budget {
    std::uint8_t left = 0;   // pushes before the reader must fetch again
    std::uint8_t given = 0;  // at its last fetch: doubled at the next if they were used up
  };
  std::unordered_map<std::uint64_t, push_budget> pushes_;  // push_key(unit, reader), since its first fetch
  // Pushed units this rank writes without faults -> their bytes at the last close.
  std::unordered_map<std::uint64_t, std::unique_ptr<std::byte[]>> streamed_;
  std::unordered_map<std::uint64_t, std::vector<fetch>> parked_;  // first unit -> fetches waiting for diffs
  std::unordered_map<std::uint64_t, std::vector<early_diff>> held_;
  bulk_assembly bulk_;  // home diffs being reassembled
  std::vector<std::byte> reply_;                             // the fetch reply the application thread waits for
  std::vector<std::byte> copy_buffer_;                       // a unit copied from a node-mate's memory
  struct offer {
    unit_data data;
    bool probe;  // installed without access: the reader's next access renews its pushes
  };
  std::unordered_map<std::uint64_t, offer> offered_;         // units pushed with the barrier release being incorporated
  std::unordered_set<std::uint64_t> probed_;                 // installed by a push, not accessed since a probe
  std::vector<std::pair<int, std::uint64_t>> renew_;         // (home, unit) read since a probe: in the next arrival
  std::unordered_map<std::uint64_t, std::uint8_t> credit_;  // unit -> refreshes left before its copy is dropped
  // Home side, node-local copies of private units (announce_taken).
  std::unordered_set<std::uint64_t> privates_;              // units private here
  std::unordered_map<std::uint64_t, std::uint8_t> hot_;     // unit -> closes it stays private though taken
  std::vector<std::uint64_t> announce_;                     // tracked by the engine after mates took them
  std::uint64_t taken_seen_ = 0;                            // the taken count at the last close (node_homes)
  std::vector<std::uint64_t> look_;                         // went private while mates held copies
  bool warned_ = false;  // the memory warning of account() was given since the last barrier
};

}  // namespace

std::unique_ptr<protocol> make_home_lazy_release(context& ctx, const protocol_parts& parts, const bound_filter* bound) {
  return std::make_unique<home_lazy_release>(ctx, parts, bound);
}

}  // namespace dsm::rt
