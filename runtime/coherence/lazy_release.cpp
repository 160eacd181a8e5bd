// lazy_release.cpp: homeless lazy release consistency (TreadMarks, Keleher, Cox and Zwaenepoel
// 1992/94; DSM_LAZY=homeless): intervals, vector timestamps, write notices, multiple writers with
// lazily created diffs. The default lazy-release protocol is home-based (home_lazy_release.cpp).
//
// A rank's execution is cut into intervals at each release and acquire; its vector time counts the
// intervals of every rank it has heard of. Every unit starts zero and valid on every rank, so no
// unit is ever fetched whole: a rank brings a unit up to date by applying the diffs it lacks.
//
// - The first write to a unit in an interval makes a twin. Closing the interval (at a release, an
//   acquire or a barrier) records "this rank wrote units ... in interval i" (the write notices) and
//   keeps the twins: nothing is sent, nothing is diffed yet.
// - A lock request carries the requester's vector time; the token carries back every interval it
//   has not seen. The acquirer records their write notices and invalidates those units.
// - The next access to an invalid unit asks each writer named by its notices for the diffs of those
//   intervals; a writer creates a diff when it is first asked for it (or before it writes the unit
//   again). The faulting rank applies the diffs in an order consistent with happens-before (by the
//   sum of each interval's vector time; concurrent intervals write disjoint bytes in a race-free
//   program) and maps the unit read-only.
// - A barrier gathers every rank's new intervals at rank 0 and gives each rank those it lacks.
//   When the diffs, twins and intervals kept on any rank pass DSM_GC_BYTES, the barrier also
//   collects garbage: every rank applies every diff it lacks, then all of them are dropped.
// - Re-acquiring a lock this rank released last sends no message at all.
#include <algorithm>
#include <cstring>
#include <map>
#include <memory>
#include <unordered_map>
#include <vector>

#include "base/invariant.hpp"
#include "base/log.hpp"
#include "base/trace.hpp"
#include "coherence/intervals.hpp"
#include "coherence/protocol.hpp"
#include "memory/diff.hpp"

namespace dsm::rt {
namespace {

class lazy_release final : public protocol, public sync_payloads, public collection {
 public:
  lazy_release(context& ctx, const bound_filter* bound)
      : ctx_(ctx), bound_(bound), n_(ctx.ranks), me_(ctx.rank), log_(n_, me_), at_last_barrier_(static_cast<size_t>(n_), 0) {}

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
    bool invalid;
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      invalid = ctx_.table->state(u) == holding::invalid;
    }
    if (invalid) validate(u);
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    encode_lazy(u);  // the diff of an earlier interval first: the twin is about to change
    auto& twin = twins_[u];
    if (!twin) twin = std::make_unique<std::byte[]>(unit());
    std::memcpy(twin.get(), ctx_.space->runtime_unit(u), ctx_.table->extent(u));
    ctx_.table->set_state(u, holding::dirty);
    ctx_.table->map(u);
    dirty_.push_back(u);
    bump(ctx_.stats.twins_created);
    DSM_TRACE_NOTE(twin, u);
    account();
  }

  // ---- synchronisation
  sync_payloads* payloads() override { return this; }
  collection* collector() override { return this; }

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

  std::vector<std::byte> token_for(int, std::span<const std::byte> request) override {
    wire_reader r{request, 0, "lock request"};
    std::vector<std::uint32_t> theirs(static_cast<size_t>(n_));
    for (auto& v : theirs) v = r.get<std::uint32_t>();
    wire_writer w;
    log_.put_missing(w, theirs);
    return std::move(w.out);
  }

  void on_token(int, std::span<const std::byte> token) override { incorporate(token); }

  std::vector<std::byte> barrier_arrival() override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    return barrier_arrival_of(log_, memory(), at_last_barrier_);  // what every rank knew at the last barrier
  }

  std::vector<std::vector<std::byte>> barrier_merge(const std::vector<std::vector<std::byte>>& arrivals) override {
    return merge_barrier_arrivals(arrivals, n_, ctx_.space->units(), ctx_.opt.gc_bytes);
  }

  bool on_barrier_release(std::span<const std::byte> release) override {
    if (release.empty()) fatal("lazy release: a barrier release without model data");
    const bool collect = release[0] != std::byte{0};
    incorporate(release.subspan(1));
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    at_last_barrier_ = log_.vc();  // every rank now knows every interval up to here
    return collect;
  }

  void collect_validate() override {
    std::vector<std::uint64_t> units;
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      for (const auto& [u, notices] : pending_) units.push_back(u);
    }
    for (std::uint64_t u : units) validate(u);
  }

  void collect_discard() override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    DSM_REQUIRE(pending_.empty() && dirty_.empty(), "garbage collection with units still invalid or dirty");
    diffs_.clear();
    diff_bytes_ = 0;
    warned_ = false;
    for (const auto& [u, index] : lazy_) twins_.erase(u);
    lazy_.clear();
    log_.clear();
    account();
  }

  bool needs_barrier_before_free() override { return true; }

  void settle(std::uint64_t first, std::uint64_t end) override {
    for (std::uint64_t u = first; u < end; ++u) {
      bool invalid;
      {
        std::lock_guard<runtime_mutex> g(ctx_.state_mu);
        encode_lazy(u);
        invalid = pending_.count(u) != 0;
      }
      if (invalid) validate(u);
    }
  }

  void on_free(std::uint64_t first, std::uint64_t end) override {
    // After the barrier that precedes a free every rank knows every interval, so no token or barrier
    // will name these units again with an interval from before the free.
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    std::erase_if(dirty_, [&](std::uint64_t u) { return u >= first && u < end; });
    for (auto it = lazy_.begin(); it != lazy_.end();) {
      if (it->first >= first && it->first < end) {
        twins_.erase(it->first);
        it = lazy_.erase(it);
      } else {
        ++it;
      }
    }
    for (auto it = twins_.begin(); it != twins_.end();) it = it->first >= first && it->first < end ? twins_.erase(it) : std::next(it);
    const auto from = diffs_.lower_bound({first, 0}), to = diffs_.lower_bound({end, 0});
    for (auto it = from; it != to; ++it) diff_bytes_ -= kept_bytes(it->second);
    diffs_.erase(from, to);
    for (auto it = pending_.begin(); it != pending_.end();) it = it->first >= first && it->first < end ? pending_.erase(it) : std::next(it);
    for (std::uint64_t u = first; u < end; ++u)
      if (ctx_.table->state(u) != holding::copy) ctx_.table->set_state(u, holding::copy);
    account();
  }

  // ---- engine: a rank asks for the diffs of unit `id` in some of this rank's intervals
  void handle(const header& h, std::span<const std::byte> payload) override {
    DSM_REQUIRE(h.type == msg::diff_req, "lazy release: unexpected %s from rank %d", msg_name(h.type), h.src);
    const std::uint64_t u = h.id;
    wire_reader r{payload, 0, "diff request"};
    wire_writer w;
    while (!r.done()) {
      const std::uint32_t index = r.get<std::uint32_t>();
      auto it = diffs_.find({u, index});
      if (it == diffs_.end()) {
        auto l = lazy_.find(u);
        if (l != lazy_.end() && l->second == index) encode_lazy(u);
        it = diffs_.find({u, index});
      }
      if (it == diffs_.end()) {
        fatal("rank %d asked for the diff of unit %llu in interval %u, which this rank does not have", h.src,
              static_cast<unsigned long long>(u), index);
      }
      w.put(index);
      w.put(static_cast<std::uint32_t>(it->second.size()));
      w.put_bytes(it->second);
    }
    header reply{.type = msg::diff_reply, .to = inbox::app, .id = u};
    ctx_.post_bulk(h.src, reply, w.out);
  }

  void handle_reply(app_op&, const header& h, std::span<const std::byte> payload) override {
    DSM_REQUIRE(h.type == msg::diff_reply, "lazy release: unexpected reply %s", msg_name(h.type));
    replies_.emplace_back(h.src, std::vector<std::byte>(payload.begin(), payload.end()));
  }

 private:
  std::uint64_t unit() const { return ctx_.space->unit(); }

  bool usable(std::uint64_t u, bool write) {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    return ctx_.table->map_if_allowed(u, write);
  }

  // state_mu held.
  void close_interval() {
    unit_table::batch protections(*ctx_.table);  // one mprotect per run of units
    if (bound_ != nullptr) {
      // A unit whose every byte is bound to locks has nothing to announce.
      std::erase_if(dirty_, [&](std::uint64_t u) {
        if (!bound_->covers(u)) return false;
        ctx_.table->set_state(u, holding::copy);
        twins_.erase(u);
        return true;
      });
    }
    if (invariant_checks()) {
      for (std::uint64_t u : dirty_) {
        DSM_INVARIANT(twins_.count(u) == 1 && ctx_.table->state(u) == holding::dirty,
                      "lazy release: unit %llu written in this interval has no twin or is not dirty",
                      static_cast<unsigned long long>(u));
      }
    }
    DSM_INVARIANT(log_.consistent(), "lazy release: the vector time does not match the interval log");
    if (dirty_.empty()) return;
    std::vector<notice> notices;
    notices.reserve(dirty_.size());
    for (std::uint64_t u : dirty_) notices.push_back({u, -1});
    const std::uint32_t index = log_.add_own(std::move(notices)).index;
    for (std::uint64_t u : dirty_) {
      ctx_.table->set_state(u, holding::copy);
      lazy_[u] = index;
    }
    dirty_.clear();
    account();
  }

  // state_mu held: turn a kept twin into the diff of the interval that wrote it.
  void encode_lazy(std::uint64_t u) {
    auto l = lazy_.find(u);
    if (l == lazy_.end()) return;
    auto t = twins_.find(u);
    DSM_REQUIRE(t != twins_.end(), "unit %llu has a pending diff but no twin", static_cast<unsigned long long>(u));
    std::vector<std::byte> d;
    if (bound_ != nullptr) bound_->mask(u, t->second.get());
    diff_encode(t->second.get(), ctx_.space->runtime_unit(u), ctx_.table->extent(u), d);
    DSM_INVARIANT(diff_reproduces(d, t->second.get(), ctx_.space->runtime_unit(u), ctx_.table->extent(u)),
                  "the diff of unit %llu, interval %u, does not turn its twin into the unit",
                  static_cast<unsigned long long>(u), l->second);
    diff_bytes_ += kept_bytes(d);
    DSM_TRACE_NOTE(diff_created, u, -1, d.size());
    diffs_[{u, l->second}] = std::move(d);
    twins_.erase(t);
    lazy_.erase(l);
    bump(ctx_.stats.diffs_created);
  }

  // Application thread, op_mu held: the write notices of intervals this rank had not seen.
  void incorporate(std::span<const std::byte> bytes) {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    unit_table::batch protections(*ctx_.table);
    close_interval();
    wire_reader r{bytes, 0, "write notices"};
    while (!r.done()) {
      interval iv = get_interval(r, n_, ctx_.space->units());
      const int writer = iv.rank;
      const std::uint32_t index = iv.index;
      const std::vector<notice> notices = iv.notices;
      if (!log_.learn(std::move(iv))) continue;
      for (const notice& n : notices) {
        const std::uint64_t u = n.unit;
        encode_lazy(u);  // this rank's own changes are diffed before anyone else's are applied
        pending_[u].emplace_back(writer, index);
        if (ctx_.table->state(u) != holding::invalid) {
          ctx_.table->set_state(u, holding::invalid);
          bump(ctx_.stats.invalidations);
          DSM_TRACE_NOTE(invalidate, u, writer);
        }
      }
    }
    DSM_INVARIANT(log_.consistent(), "lazy release: the vector time does not match the interval log");
    account();
  }

  // Application thread, op_mu held: fetch and apply every diff unit u lacks.
  void validate(std::uint64_t u) {
    std::map<int, std::vector<std::uint32_t>> by_writer;
    std::size_t expected = 0;
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      auto it = pending_.find(u);
      DSM_REQUIRE(it != pending_.end(), "unit %llu is invalid without write notices", static_cast<unsigned long long>(u));
      for (auto [r, index] : it->second) by_writer[r].push_back(index);
      // One request per writer, or several if its list does not fit in one message.
      const std::size_t per_request = ctx_.net->max_payload() / sizeof(std::uint32_t);
      for (const auto& [r, indices] : by_writer) {
        for (std::size_t i = 0; i < indices.size(); i += per_request) {
          wire_writer w;
          for (std::size_t k = i; k < std::min(indices.size(), i + per_request); ++k) w.put(indices[k]);
          header req{.type = msg::diff_req, .to = inbox::engine, .id = u};
          ctx_.post(r, req, w.out);
          ++expected;
        }
      }
    }
    replies_.clear();
    app_op op;
    op.expect_a = msg::diff_reply;
    op.id = u;
    ctx_.wait(op, [&](const app_op&) { return replies_.size() == expected; });

    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    struct piece {
      std::uint64_t weight;
      int rank;
      std::uint32_t index;
      std::span<const std::byte> diff;
    };
    std::vector<piece> pieces;
    for (const auto& [from, bytes] : replies_) {
      wire_reader r{bytes, 0, "diff reply"};
      while (!r.done()) {
        const std::uint32_t index = r.get<std::uint32_t>();
        const std::uint32_t length = r.get<std::uint32_t>();
        const interval& iv = log_.find(from, index);
        pieces.push_back({iv.weight(), from, index, r.get_bytes(length)});
      }
    }
    std::sort(pieces.begin(), pieces.end(),
              [](const piece& a, const piece& b) { return std::tie(a.weight, a.rank, a.index) < std::tie(b.weight, b.rank, b.index); });
    for (const piece& p : pieces) {
      if (!p.diff.empty() && !diff_apply(p.diff, ctx_.space->runtime_unit(u), unit()))
        fatal("malformed diff of unit %llu from rank %d", static_cast<unsigned long long>(u), p.rank);
      bump(ctx_.stats.diffs_applied);
      DSM_TRACE_NOTE(diff_applied, u, p.rank, p.diff.size());
    }
    pending_.erase(u);
    replies_.clear();
    bump(ctx_.stats.units_fetched);
    DSM_TRACE_NOTE(fetch, u);
    ctx_.table->set_state(u, holding::copy);
    account();
  }

  // Bytes held for the protocol: diffs, twins and intervals.
  // Kept incrementally: this is read after every change.
  std::uint64_t memory() const { return twins_.size() * unit() + diff_bytes_ + log_.bytes(); }
  static std::uint64_t kept_bytes(const std::vector<std::byte>& diff) { return diff.size() + 32; }
  void account() {
    const std::uint64_t bytes = memory();
    ctx_.stats.protocol_bytes.store(bytes, std::memory_order_relaxed);
    // Garbage is collected only at a barrier: a program that synchronises with locks alone keeps
    // every diff and write notice. Say so once per collection cycle, long before memory runs out.
    if (!warned_ && bytes > 4 * ctx_.opt.gc_bytes) {
      warned_ = true;
      DSM_LOG(warn,
              "lazy release keeps %llu bytes of twins, diffs and write notices, over 4 x DSM_GC_BYTES (%llu); they are "
              "collected only at dsm::barrier(), so a program that never calls it grows without bound",
              static_cast<unsigned long long>(bytes), static_cast<unsigned long long>(ctx_.opt.gc_bytes));
    }
  }

  context& ctx_;
  const bound_filter* bound_;  // entry consistency: bytes that travel with locks instead
  const int n_;
  const int me_;
  interval_log log_;
  std::vector<std::uint32_t> at_last_barrier_;  // the vector time every rank had after the last barrier
  std::vector<std::uint64_t> dirty_;        // written in the open interval
  std::unordered_map<std::uint64_t, std::unique_ptr<std::byte[]>> twins_;
  std::unordered_map<std::uint64_t, std::uint32_t> lazy_;  // unit -> closed interval whose diff is its twin still
  std::map<std::pair<std::uint64_t, std::uint32_t>, std::vector<std::byte>> diffs_;  // (unit, interval) -> diff
  std::unordered_map<std::uint64_t, std::vector<std::pair<int, std::uint32_t>>> pending_;  // notices not applied
  std::vector<std::pair<int, std::vector<std::byte>>> replies_;
  bool warned_ = false;           // the memory warning of account() was given since the last collection
  std::uint64_t diff_bytes_ = 0;  // in diffs_
};

}  // namespace

std::unique_ptr<protocol> make_homeless_lazy_release(context& ctx, const bound_filter* bound) {
  return std::make_unique<lazy_release>(ctx, bound);
}

}  // namespace dsm::rt
