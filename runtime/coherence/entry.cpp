// entry.cpp: entry consistency (Midway; Bershad, Zekauskas and Sawdon 1993). Data bound to a lock
// (dsm::mutex::bind) is brought up to date by acquiring that lock, and by nothing else; unbound data
// is made consistent by barriers.
//
// Bound data. Each lock has a directory at its manager (rank id % ranks), as CRL keeps one per
// region at its home: which rank holds the data exclusively (the owner), or which ranks hold read
// copies (the sharers). Holding the data is separate from holding the lock: the last owner keeps
// the data after its release, so acquiring again sends no message, and readers keep their copies
// until a writer asks for them.
// - An acquire this rank's copy allows (exclusive: it owns the data; shared: it has any copy) is
//   local. Otherwise it asks the manager, which serves one request per lock at a time, in order:
//   - from an owner: it forwards the request; the owner sends the bound data straight to the
//     acquirer as the grant (keeping a read copy for a shared request) and tells the manager;
//   - shared, from sharers: one sharer sends its copy the same way;
//   - exclusive, from sharers: every other sharer drops its copy; one of them sends the data back
//     with its answer if the acquirer has none; the manager grants when all have answered.
//   A holder that still holds the lock in a conflicting mode answers at its release, and tells the
//   manager at once that it holds it. A try is refused instead of waiting: by the holder, or by the
//   manager while a holder has said it holds the lock. A try that reaches a busy manager before any
//   such word waits its turn, which costs only messages in flight: refusing it then would fail a
//   try of a lock that nobody holds (its last hand-off not yet reported to the manager).
// - The grant carries exactly the bound bytes (all ranges of the lock, in bind order): acquiring a
//   lock bound to 64 bytes moves 64 bytes and the headers, never a unit.
// - A forward can reach a rank before the grant that made it a holder (they travel by different
//   paths); the manager numbers its grants per rank, and a rank that has not yet seen the grant a
//   forward counts on keeps the forward until it has.
//
// Unbound data: lazy release (lazy_release.cpp) whose intervals end only at barriers, with every
// bound byte masked out of its diffs and write notices (bound_filter): a barrier makes all unbound
// data consistent; bound data travels only with its lock.
//
// DSM_CHECK=1: a write fault on bound data is checked against the lock's mode here. A unit that
// holds bound data loses write access at every acquire and release of its locks, and while it
// holds data of a lock this rank does not hold exclusively, the fault handler lets one write
// through at a time (the trap flag), so that every write to it is checked.
#include <algorithm>
#include <cstring>
#include <deque>
#include <string>
#include <unordered_map>
#include <vector>

#include "base/invariant.hpp"
#include "base/log.hpp"
#include "base/trace.hpp"
#include "coherence/bindings.hpp"
#include "coherence/protocol.hpp"
#include "dsm/dsm.hpp"
#include "transport/bulk.hpp"

namespace dsm::rt {
namespace {

enum class mode : std::uint8_t { none = 0, shared = 1, exclusive = 2 };
// What a holder sends when it serves a forward.
enum class send : std::uint8_t { nothing = 0, grant = 1, to_manager = 2 };

const char* mode_name(mode m) { return m == mode::exclusive ? "exclusively" : "shared"; }

// A forwarded request, as the holder keeps it until it can serve it.
struct forward {
  int origin = -1;
  mode want = mode::none;
  bool try_only = false;
  send what = send::nothing;
  std::uint64_t grants = 0;  // grants the manager had sent this rank for this lock when it forwarded
};

std::uint64_t pack(mode m, bool try_only, send what) {
  return static_cast<std::uint64_t>(m) | (try_only ? 4u : 0u) | (static_cast<std::uint64_t>(what) << 8);
}

class entry final : public protocol, public lock_server, private bound_filter {
 public:
  entry(context& ctx, const protocol_parts& parts)
      : ctx_(ctx), bindings_(*parts.bound), unbound_(make_lazy_release(ctx, parts, this)) {}

  // ---- unbound data: lazy release cut at barriers
  void read_miss(std::uint64_t u) override { unbound_->read_miss(u); }
  void write_miss(std::uint64_t u) override { unbound_->write_miss(u); }
  void on_barrier() override { unbound_->on_barrier(); }
  sync_payloads* payloads() override { return unbound_->payloads(); }  // barriers only: this model serves locks
  collection* collector() override { return unbound_->collector(); }
  bool needs_barrier_before_free() override { return true; }
  void on_free(std::uint64_t first, std::uint64_t end) override { unbound_->on_free(first, end); }
  void settle(std::uint64_t first, std::uint64_t end) override { unbound_->settle(first, end); }
  void before_free(std::uint64_t first, std::uint64_t end) override { unbound_->before_free(first, end); }

  // ---- locks
  lock_server* locks() override { return this; }

  std::optional<std::uint64_t> any_held() override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    for (const auto& [id, s] : holders_)
      if (s.held != mode::none) return id;
    return std::nullopt;
  }

  bool acquire(std::uint64_t id, bool exclusive, bool try_only) override {
    const mode want = exclusive ? mode::exclusive : mode::shared;
    trace::span traced(trace::ev::acquire, id, manager(id));
    std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      holder& s = state(id);
      if (s.held != mode::none) {
        if (try_only) return false;
        throw dsm::error("dsm::mutex " + std::to_string(id) + ": acquired twice by rank " + std::to_string(ctx_.rank) +
                         " (locks are not recursive)");
      }
      if (s.copy == mode::exclusive || (want == mode::shared && s.copy == mode::shared)) {
        s.held = want;
        bump(ctx_.stats.lock_acquires);
        reprotect(id);
        return true;
      }
      header req{.type = msg::ec_acq, .to = inbox::engine, .origin = ctx_.rank, .id = id,
                 .arg = pack(want, try_only, send::nothing)};
      ctx_.post(manager(id), req);
    }
    app_op op;
    op.expect_a = msg::ec_grant;
    op.expect_b = msg::ec_fail;
    op.id = id;
    ctx_.wait(op, [](const app_op& o) { return o.done || o.failed; });
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    holder& s = state(id);
    if (!op.failed) {
      if (grant_has_data_) install(id, grant_);
      ++s.grants;
      s.copy = want;
      s.held = want;
      bump(ctx_.stats.lock_acquires);
      bump(ctx_.stats.remote_lock_acquires);
      reprotect(id);
    }
    grant_.clear();
    serve_kept(id, s);
    return !op.failed;
  }

  void release(std::uint64_t id, bool exclusive) override {
    const mode was = exclusive ? mode::exclusive : mode::shared;
    trace::span traced(trace::ev::release, id);
    std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    auto it = holders_.find(id);
    if (it == holders_.end() || it->second.held != was) {
      // Worded as lock_service words it, with the mode where it matters.
      const bool other = it != holders_.end() && it->second.held != mode::none;
      throw dsm::error("dsm::mutex " + std::to_string(id) + ": released" + (exclusive ? "" : " shared") + " by rank " +
                       std::to_string(ctx_.rank) + (other ? ", which holds it " + std::string(mode_name(it->second.held))
                                                          : ", which does not hold it"));
    }
    it->second.held = mode::none;
    reprotect(id);
    serve_kept(id, it->second);
  }

  bool holds_exclusive(std::uint64_t id) override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    auto it = holders_.find(id);
    return it != holders_.end() && it->second.held == mode::exclusive;
  }

  bool holds(std::uint64_t id) override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    auto it = holders_.find(id);
    return it != holders_.end() && it->second.held != mode::none;
  }

  bool forget_lock(std::uint64_t id) override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    auto d = dirs_.find(id);
    if (d != dirs_.end() && (d->second.busy || !d->second.queue.empty())) return false;  // an answer is on its way
    auto h = holders_.find(id);
    DSM_INVARIANT(h == holders_.end() || (h->second.held == mode::none && !h->second.kept),
                  "entry: lock %llu forgotten by rank %d while in use", static_cast<unsigned long long>(id), ctx_.rank);
    if (h != holders_.end()) holders_.erase(h);
    if (d != dirs_.end()) dirs_.erase(d);
    count_records();
    return true;
  }

  void check_write(const std::byte* addr) override {
    if (!ctx_.space->contains(addr)) return;
    const auto off = static_cast<std::uint64_t>(addr - ctx_.space->app_base());
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    const bindings::range* r = bindings_.find(off);
    if (r == nullptr) return;
    auto it = holders_.find(r->lock);
    if (it != holders_.end() && it->second.held == mode::exclusive) return;
    fatal("DSM_CHECK: rank %d wrote %p (byte %llu of the %llu bound at %p), which is bound to dsm::mutex %llu, "
          "without holding that lock exclusively",
          ctx_.rank, static_cast<const void*>(addr), static_cast<unsigned long long>(off - r->offset),
          static_cast<unsigned long long>(r->bytes), static_cast<const void*>(ctx_.space->app_base() + r->offset),
          static_cast<unsigned long long>(r->lock));
  }

  bool watch_writes(std::uint64_t u) override {
    const std::uint64_t base = u * ctx_.space->unit();
    bool watch = false;
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    bindings_.for_each_in(base, base + ctx_.space->unit(), [&](const bindings::range& r, std::uint64_t, std::uint64_t) {
      auto it = holders_.find(r.lock);
      watch = watch || it == holders_.end() || it->second.held != mode::exclusive;
    });
    return watch;
  }

  // ---- engine
  void handle(const header& h, std::span<const std::byte> payload) override {
    switch (h.type) {
      case msg::ec_acq: {
        directory& d = dir(h.id);
        const request q{h.origin, static_cast<mode>(h.arg & 3), (h.arg & 4) != 0};
        if (q.want != mode::shared && q.want != mode::exclusive) fatal("entry: a lock request in no mode from rank %d", h.src);
        if (!d.busy) start(h.id, d, q);
        else if (q.try_only && d.held_elsewhere) refuse(h.id, q.origin);
        else d.queue.push_back(q);
        break;
      }
      case msg::ec_fwd: {
        const forward f{h.origin, static_cast<mode>(h.arg & 3), (h.arg & 4) != 0, static_cast<send>((h.arg >> 8) & 3), h.arg2};
        holder& s = state(h.id);
        DSM_REQUIRE(!s.kept, "entry: lock %llu: a second forward kept at rank %d", static_cast<unsigned long long>(h.id),
                  ctx_.rank);
        s.kept = true;
        s.kept_fwd = f;
        serve_kept(h.id, s);
        break;
      }
      case msg::ec_done: {
        if (h.arg == kEcHeldHere) {  // the holder keeps the current request until its release: refuse the tries
          directory& d = dir(h.id);
          DSM_REQUIRE(d.busy, "entry: lock %llu: rank %d holds it, but no request is in progress",
                      static_cast<unsigned long long>(h.id), h.src);
          d.held_elsewhere = true;
          std::erase_if(d.queue, [&](const request& q) {
            if (q.try_only) refuse(h.id, q.origin);
            return q.try_only;
          });
          break;
        }
        std::optional<std::vector<std::byte>> data = bulk_.add(h, payload);
        if (data) answered(h.id, h.src, h.arg != kEcRefused, std::move(*data));
        break;
      }
      case msg::diff_req: case msg::home_claim: case msg::fetch_req: case msg::home_diff: unbound_->handle(h, payload); break;
      default: fatal("entry: unexpected %s from rank %d", msg_name(h.type), h.src);
    }
  }

  void handle_reply(app_op& op, const header& h, std::span<const std::byte> payload) override {
    switch (h.type) {
      case msg::ec_grant:
        grant_.assign(payload.begin(), payload.end());
        grant_has_data_ = h.arg != 0;
        op.done = true;
        break;
      case msg::ec_fail: op.failed = true; break;
      default: unbound_->handle_reply(op, h, payload);
    }
  }

 private:
  // What this rank has of a lock and its data.
  struct holder {
    mode copy = mode::none;   // the bound data it has: exclusive (it owns it), shared (a read copy) or none
    mode held = mode::none;   // the lock as the application holds it now
    std::uint64_t grants = 0; // grants received
    bool kept = false;        // a forward waits for this rank's release or grant
    bool told_held = false;   // the manager knows that the kept forward waits for a release
    forward kept_fwd;
  };
  struct request {
    int origin;
    mode want;
    bool try_only;
  };
  // The manager's view of a lock.
  struct directory {
    int owner = -1;
    std::vector<int> sharers;
    std::unordered_map<int, std::uint64_t> grants;  // grants sent per rank
    bool busy = false;
    bool held_elsewhere = false;  // a holder keeps the current request until its release
    request current{};
    int answers = 0;          // still awaited
    bool refused = false;
    bool manager_grants = false;
    std::vector<std::byte> data;  // relayed bound data
    std::deque<request> queue;
  };

  int manager(std::uint64_t id) const { return static_cast<int>(id % static_cast<std::uint64_t>(ctx_.ranks)); }

  holder& state(std::uint64_t id) {
    auto [it, fresh] = holders_.try_emplace(id);
    if (fresh) count_records();
    if (fresh && manager(id) == ctx_.rank) it->second.copy = mode::exclusive;  // the data starts at the manager
    return it->second;
  }
  directory& dir(std::uint64_t id) {
    auto [it, fresh] = dirs_.try_emplace(id);
    if (fresh) {
      it->second.owner = ctx_.rank;
      count_records();
    }
    return it->second;
  }
  void count_records() { ctx_.stats.lock_records.store(holders_.size() + dirs_.size(), std::memory_order_relaxed); }

  static bool conflicts(const holder& s, const forward& f) {
    return f.want == mode::exclusive ? s.held != mode::none : s.held == mode::exclusive;
  }

  // ---- manager (engine, or application thread through the local queue; state_mu held)
  void start(std::uint64_t id, directory& d, const request& q) {
    d.busy = true;
    d.held_elsewhere = false;
    d.current = q;
    d.refused = false;
    d.manager_grants = false;
    d.data.clear();
    const int r = q.origin;
    auto fwd = [&](int to, send what) {
      header f{.type = msg::ec_fwd, .to = inbox::engine, .origin = r, .id = id, .arg = pack(q.want, q.try_only, what),
               .arg2 = d.grants[to]};
      ctx_.post(to, f);
    };
    if (d.owner >= 0) {
      DSM_REQUIRE(d.owner != r, "entry: lock %llu: its owner %d asked for it", static_cast<unsigned long long>(id), r);
      d.answers = 1;
      fwd(d.owner, send::grant);
      return;
    }
    DSM_REQUIRE(!d.sharers.empty(), "entry: lock %llu has neither owner nor copies", static_cast<unsigned long long>(id));
    const bool has_copy = std::find(d.sharers.begin(), d.sharers.end(), r) != d.sharers.end();
    if (q.want == mode::shared) {
      DSM_REQUIRE(!has_copy, "entry: lock %llu: rank %d asked for a copy it has", static_cast<unsigned long long>(id), r);
      const bool here = std::find(d.sharers.begin(), d.sharers.end(), ctx_.rank) != d.sharers.end();
      d.answers = 1;
      fwd(here ? ctx_.rank : d.sharers.front(), send::grant);
      return;
    }
    d.manager_grants = true;
    d.answers = 0;
    bool data_asked = has_copy;
    for (int s : d.sharers) {
      if (s == r) continue;
      ++d.answers;
      fwd(s, data_asked ? send::nothing : send::to_manager);
      data_asked = true;
    }
    if (d.answers == 0) finish(id, d);
  }

  void refuse(std::uint64_t id, int r) {
    header fail{.type = msg::ec_fail, .to = inbox::app, .id = id};
    ctx_.post(r, fail);
  }

  void answered(std::uint64_t id, int from, bool ok, std::vector<std::byte> data) {
    directory& d = dir(id);
    DSM_REQUIRE(d.busy && d.answers > 0, "entry: lock %llu: an answer from rank %d nobody awaited",
              static_cast<unsigned long long>(id), from);
    if (!ok) {
      d.refused = true;
    } else if (d.manager_grants) {
      std::erase(d.sharers, from);  // it dropped its copy
      if (!data.empty()) d.data = std::move(data);
    }
    if (--d.answers == 0) finish(id, d);
  }

  void finish(std::uint64_t id, directory& d) {
    const request q = d.current;
    if (d.refused) {
      refuse(id, q.origin);
    } else {
      if (q.want == mode::shared) {
        if (d.owner >= 0) d.sharers = {d.owner};
        d.owner = -1;
        d.sharers.push_back(q.origin);
      } else {
        d.owner = q.origin;
        d.sharers.clear();
      }
      ++d.grants[q.origin];
      if (d.manager_grants) {
        header g{.type = msg::ec_grant, .to = inbox::app, .id = id, .arg = d.data.empty() ? 0u : 1u};
        ctx_.post_bulk(q.origin, g, d.data);
      }
    }
    d.busy = false;
    d.data.clear();
    while (!d.busy && !d.queue.empty()) {
      const request next = d.queue.front();
      d.queue.pop_front();
      start(id, d, next);
    }
  }

  // ---- holder (state_mu held)
  void serve(std::uint64_t id, holder& s, const forward& f) {
    DSM_REQUIRE(s.copy != mode::none, "entry: lock %llu: rank %d asked to serve data it does not have",
              static_cast<unsigned long long>(id), ctx_.rank);
    std::vector<std::byte> data;
    if (f.what != send::nothing) data = gather(id);
    if (f.what == send::grant) {
      header g{.type = msg::ec_grant, .to = inbox::app, .id = id, .arg = 1};
      ctx_.post_bulk(f.origin, g, data);
      data.clear();
    }
    if (f.want == mode::exclusive) DSM_TRACE_NOTE(invalidate, id, f.origin);
    s.copy = f.want == mode::shared ? mode::shared : mode::none;
    answer(id, f, true, data);
  }

  void answer(std::uint64_t id, const forward& f, bool ok, std::span<const std::byte> data) {
    header done{.type = msg::ec_done, .to = inbox::engine, .origin = f.origin, .id = id, .arg = ok ? kEcServed : kEcRefused};
    ctx_.post_bulk(manager(id), done, data);
  }

  // Serves the kept forward if this rank can now: not before the grant it counts on has arrived
  // (that grant makes this rank a holder), and not while the application holds the lock in a
  // conflicting mode, unless it is a try, which is refused instead.
  void serve_kept(std::uint64_t id, holder& s) {
    if (!s.kept || s.grants < s.kept_fwd.grants) return;
    if (conflicts(s, s.kept_fwd) && !s.kept_fwd.try_only) {
      if (!s.told_held) {
        s.told_held = true;
        header held{.type = msg::ec_done, .to = inbox::engine, .origin = s.kept_fwd.origin, .id = id, .arg = kEcHeldHere};
        ctx_.post_bulk(manager(id), held, {});
      }
      return;
    }
    s.kept = false;
    s.told_held = false;
    if (conflicts(s, s.kept_fwd)) answer(id, s.kept_fwd, false, {});
    else serve(id, s, s.kept_fwd);
  }

  // The bound data of a lock, range after range.
  std::vector<std::byte> gather(std::uint64_t id) const {
    std::vector<std::byte> out;
    out.reserve(bindings_.bytes_of_lock(id));
    for (const auto& r : bindings_.of_lock(id)) {
      const std::byte* p = ctx_.space->runtime_base() + r.offset;
      out.insert(out.end(), p, p + r.bytes);
    }
    return out;
  }

  void install(std::uint64_t id, std::span<const std::byte> data) {
    if (data.size() != bindings_.bytes_of_lock(id)) {
      fatal("entry: the grant of dsm::mutex %llu carries %zu bytes, but %llu are bound to it here",
            static_cast<unsigned long long>(id), data.size(), static_cast<unsigned long long>(bindings_.bytes_of_lock(id)));
    }
    std::size_t at = 0;
    for (const auto& r : bindings_.of_lock(id)) {
      std::memcpy(ctx_.space->runtime_base() + r.offset, data.data() + at, r.bytes);
      at += r.bytes;
    }
    // The bound data of lock `id` arrived (the trace's "fetch", named by the lock, not a unit).
    bump(ctx_.stats.units_fetched);
    DSM_TRACE_NOTE(fetch, id, manager(id), data.size());
  }

  // DSM_CHECK=1: units with data bound to this lock lose write access, so that the next write to
  // them faults and is checked.
  void reprotect(std::uint64_t id) {
    if (!ctx_.opt.check) return;
    const std::uint64_t unit = ctx_.space->unit();
    for (const auto& r : bindings_.of_lock(id))
      for (std::uint64_t u = r.offset / unit; u <= (r.offset + r.bytes - 1) / unit; ++u) ctx_.table->drop_write(u);
  }

  // ---- bound_filter, for the lazy release of unbound data
  void mask(std::uint64_t u, std::byte* twin) const override {
    const std::uint64_t base = u * ctx_.space->unit();
    bindings_.for_each_in(base, base + ctx_.table->extent(u), [&](const bindings::range&, std::uint64_t lo, std::uint64_t hi) {
      std::memcpy(twin + (lo - base), ctx_.space->runtime_base() + lo, hi - lo);
    });
  }
  bool covers(std::uint64_t u) const override {
    const std::uint64_t base = u * ctx_.space->unit();
    std::uint64_t n = 0;
    bindings_.for_each_in(base, base + ctx_.table->extent(u),
                           [&](const bindings::range&, std::uint64_t lo, std::uint64_t hi) { n += hi - lo; });
    return n == ctx_.table->extent(u);
  }
  bool touches(std::uint64_t u) const override {
    const std::uint64_t base = u * ctx_.space->unit();
    bool any = false;
    bindings_.for_each_in(base, base + ctx_.table->extent(u), [&](const bindings::range&, std::uint64_t, std::uint64_t) { any = true; });
    return any;
  }

  context& ctx_;
  const bindings& bindings_;  // ranges bound to locks
  std::unique_ptr<protocol> unbound_;
  std::unordered_map<std::uint64_t, holder> holders_;
  std::unordered_map<std::uint64_t, directory> dirs_;
  bulk_assembly bulk_;  // ec_done answers being reassembled
  std::vector<std::byte> grant_;  // the data of the grant the application thread waits for
  bool grant_has_data_ = false;
};

}  // namespace

// Units start as under lazy release, which keeps the unbound data.
const model_entry entry_model{dsm::model::entry, [](const options& o) { return lazy_release_model.setup(o); },
                              [](context& ctx, const protocol_parts& parts) -> std::unique_ptr<protocol> {
                                return std::make_unique<entry>(ctx, parts);
                              }};

}  // namespace dsm::rt
