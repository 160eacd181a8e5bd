// eager_release.cpp: eager release consistency (Munin, Carter, Bennett and Zwaenepoel 1991):
// multiple writers with twins and diffs, write-update at release.
//
// Every unit has a home (homes.hpp, DSM_HOME: by default the first rank to touch it) that keeps the
// master copy and the copyset. A miss on a unit this rank has no copy of fetches it from the home,
// which adds the rank to the copyset; copies stay valid from then on, because every change is pushed
// to them (a home that is writing the unit sends its twin, not its unreleased bytes). A unit no
// other rank holds (a private unit) costs its home nothing: it stays writable across releases, with
// no twin and no diff; the home takes write access away when a rank first fetches it. Any other
// first write to a valid unit in an interval makes a twin and maps the unit writable, without a
// message. At a release (lock release,
// barrier arrival) the rank diffs each dirty unit against its twin, sends each diff to the unit's
// home, which applies it to the master and forwards it to every other copy holder, and waits for an
// acknowledgement from each: when release returns, every copy in the job has the writes. A diff that
// arrives while this rank writes the same unit is applied to the unit and to its twin, so that this
// rank's own diff carries only its own bytes; one that arrives while the unit is being fetched is
// held until the fetched data is installed.
//
// Node-local fast path (coherence/node_homes): a rank whose home is a node-mate first tries to copy
// the home copy itself, with no message. The home marks each of its units as changing while it
// writes the unit (from its write miss to its release) and while its engine applies a diff to it;
// a copy is taken only between changes, and the node-mate enters itself in the home's node-local
// copyset in the same step, so every later diff is forwarded to it as to any copy holder.
#include <cstring>
#include <memory>
#include <unordered_map>
#include <vector>

#include "base/invariant.hpp"
#include "base/log.hpp"
#include "base/trace.hpp"
#include "coherence/homes.hpp"
#include "coherence/node_homes.hpp"
#include "coherence/protocol.hpp"
#include "memory/diff.hpp"
#include "memory/global_space.hpp"

namespace dsm::rt {
namespace {

class eager_release final : public protocol {
 public:
  eager_release(context& ctx, const protocol_parts& parts)
      : ctx_(ctx), node_homes_(parts.homes), homes_(ctx, parts), span_(std::min<std::uint64_t>(ctx.space->unit(), std::uint64_t{256} << 10)) {}

  void read_miss(std::uint64_t u) override {
    std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
    if (usable(u, false)) return;
    locate(u, true);
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    ctx_.table->map(u);
  }

  void write_miss(std::uint64_t u) override {
    std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
    if (usable(u, true)) return;
    bool valid;
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      valid = ctx_.table->state(u) != holding::invalid;
    }
    const int home = locate(u, !valid);
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    bump(ctx_.stats.write_misses);
    if (home == ctx_.rank && !ctx_.table->copies_besides(u, ctx_.rank) && (!node_homes_ || node_homes_->make_private(u))) {
      // Nobody else holds it: written in place, without a twin, and not announced.
      ctx_.table->set_state(u, holding::owner_sole);
      ctx_.table->map(u);
      return;
    }
    if (node_home(u) && ctx_.table->state(u) != holding::dirty) node_homes_->begin_change(u);
    auto& twin = twins_[u];
    if (!twin) twin = std::make_unique<std::byte[]>(ctx_.space->unit());
    std::memcpy(twin.get(), ctx_.space->runtime_unit(u), ctx_.table->extent(u));
    ctx_.table->set_state(u, holding::dirty);
    ctx_.table->map(u);
    dirty_.push_back(u);
    bump(ctx_.stats.twins_created);
    DSM_TRACE_NOTE(twin, u);
  }

  void on_release(std::uint64_t) override { flush(); }

  void on_free(std::uint64_t first, std::uint64_t end) override {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    std::erase_if(dirty_, [&](std::uint64_t u) {
      if (u < first || u >= end) return false;
      twins_.erase(u);
      ctx_.table->set_state(u, holding::copy);
      if (node_home(u)) node_homes_->end_change(u);
      return true;
    });
    ctx_.table->reset(first, end);  // as allocated: no home, no copy
    if (node_homes_) node_homes_->reset(first, end);
  }
  void on_barrier() override { flush(); }

  void handle(const header& h, std::span<const std::byte> payload) override {
    const std::uint64_t u = h.id;
    switch (h.type) {
      case msg::home_claim: homes_.handle(h); break;
      case msg::read_req: {
        if (h.flags == kClaim) {  // at u's manager, from a rank that does not know u's home
          const int home = homes_.decide(u, h.src);
          if (home != ctx_.rank) {
            header reply{.type = msg::home_is, .to = inbox::app, .id = u, .arg = static_cast<std::uint64_t>(home)};
            ctx_.post(h.src, reply);
            break;
          }
        }
        DSM_REQUIRE(homes_.adopt(u), "read request for unit %llu at rank %d, not its home", static_cast<unsigned long long>(u),
                    ctx_.rank);
        if (ctx_.table->state(u) == holding::owner_sole) {
          // A private unit gets a copy: every later write of the home's must reach it.
          ctx_.table->set_state(u, holding::copy);
          if (node_homes_) node_homes_->make_tracked(u);
        }
        ctx_.table->add_copy(u, h.src);
        send_unit(h.src, u);
        break;
      }
      case msg::diff_push: {
        DSM_REQUIRE(homes_.adopt(u), "diff for unit %llu at rank %d, not its home", static_cast<unsigned long long>(u),
                    ctx_.rank);
        apply(u, h.offset, h.arg2, payload, h.src);
        std::uint64_t forwarded = 0;
        for_each_copy(u, [&](int c) {
          if (c == h.src || c == ctx_.rank) return;
          header fwd{.type = msg::diff_fwd, .to = inbox::engine, .origin = h.src, .id = u, .arg2 = h.arg2, .offset = h.offset};
          ctx_.post(c, fwd, payload);
          ++forwarded;
        });
        header ack{.type = msg::diff_ack, .to = inbox::app, .flags = kFromHome, .id = u, .arg = forwarded};
        ctx_.post(h.src, ack);
        break;
      }
      case msg::diff_fwd: {
        apply(u, h.offset, h.arg2, payload, h.src);
        header ack{.type = msg::diff_ack, .to = inbox::app, .id = u};
        ctx_.post(h.origin, ack);
        break;
      }
      default: fatal("eager release: unexpected %s from rank %d", msg_name(h.type), h.src);
    }
  }

  void handle_reply(app_op& op, const header& h, std::span<const std::byte> payload) override {
    if (h.type == msg::home_is) {
      homes_.handle_reply(op, h);
      return;
    }
    if (h.type == msg::diff_ack) {
      if (h.flags == kFromHome) {  // it forwarded to h.arg copies, each of which acknowledges
        ++op.homes_acked;
        op.acks_needed += h.arg;
      } else {
        ++op.acks;
      }
      return;
    }
    DSM_REQUIRE(h.type == msg::unit_data, "eager release: unexpected reply %s", msg_name(h.type));
    if (!payload.empty()) {
      std::memcpy(ctx_.space->runtime_unit(h.id) + h.offset, payload.data(), payload.size());
      op.data_received += payload.size();
    }
    op.data_total = h.arg2;
    op.granted_access = access::read;
    op.granted = true;
  }

 private:
  bool usable(std::uint64_t u, bool write) {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    return ctx_.table->map_if_allowed(u, write);
  }

  // True if this rank is u's home and node-mates may read its home copy directly.
  bool node_home(std::uint64_t u) const { return node_homes_ && ctx_.table->home(u) == ctx_.rank; }

  // Every rank that holds a copy of u, which this rank is home of: those that asked by message and
  // the node-mates that copied it directly. state_mu held.
  template <class Fn>
  void for_each_copy(std::uint64_t u, Fn&& fn) {
    ctx_.table->for_each_copy(u, fn);
    if (node_homes_)
      node_homes_->for_each_copy(u, [&](int c) {
        if (!ctx_.table->in_copyset(u, c)) fn(c);
      });
  }

  // u's home, and with `copy` a valid copy of u here unless this rank is the home. op_mu held.
  // Where the home is yet to be learned from u's manager on another node, one request asks for
  // both: the manager sends the unit if it is the home (the usual case: the manager's own block),
  // else the home, which the copy is then fetched from.
  int locate(std::uint64_t u, bool copy) {
    const int at = homes_.manager_to_ask(u);
    if (at < 0) {
      const int home = homes_.resolve(u);
      if (copy && home != ctx_.rank) fetch(u);
      return home;
    }
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      held_[u];  // diffs that arrive before the data are held here
      header req{.type = msg::read_req, .to = inbox::engine, .flags = kClaim, .id = u};
      ctx_.post(at, req);
    }
    if (copy) global_space::prefault(ctx_.space->runtime_unit(u), ctx_.table->extent(u));  // while the request is on its way
    app_op op;
    op.expect_a = msg::unit_data;
    op.expect_b = msg::home_is;
    op.id = u;
    ctx_.wait(op, [](const app_op& o) { return o.done || o.unit_complete(); });
    if (!op.granted) {  // home_is: the manager is not the home
      const int home = static_cast<int>(op.data_total);
      {
        std::lock_guard<runtime_mutex> g(ctx_.state_mu);
        held_.erase(u);  // (this rank is in no copyset yet, and a home holds nothing: nothing was held)
        homes_.learned(u, home);
      }
      if (copy && home != ctx_.rank) fetch(u);
      return home;
    }
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    homes_.learned(u, at);
    bump(ctx_.stats.read_misses);
    installed(u, at, op.data_total);
    return at;
  }

  // A copy from the home (known: the caller resolved it). op_mu held.
  void fetch(std::uint64_t u) {
    const int home = ctx_.table->home(u);
    DSM_REQUIRE(home != ctx_.rank, "unit %llu invalid at its own home", static_cast<unsigned long long>(u));
    if (node_homes_ && node_homes_->readable(home)) {
      // state_mu across the copy: a diff the home forwards once this rank is in its copyset must
      // find the unit valid here, not be dropped as if there were no copy.
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      if (node_homes_->try_copy(u, home, ctx_.space->runtime_unit(u), ctx_.table->extent(u))) {
        bump(ctx_.stats.read_misses);
        bump(ctx_.stats.units_fetched);
        bump(ctx_.stats.node_copies);
        DSM_TRACE_NOTE(fetch, u, home, ctx_.table->extent(u));
        ctx_.table->set_state(u, holding::copy);
        ctx_.table->map(u);
        return;
      }
    }
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      bump(ctx_.stats.read_misses);
      held_[u];  // diffs that arrive before the data are held here
      header req{.type = msg::read_req, .to = inbox::engine, .id = u};
      ctx_.post(home, req);
    }
    global_space::prefault(ctx_.space->runtime_unit(u), ctx_.table->extent(u));  // while the request is on its way
    app_op op;
    op.expect_a = msg::unit_data;
    op.id = u;
    ctx_.wait(op, [](const app_op& o) { return o.unit_complete(); });
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    installed(u, home, op.data_total);
  }

  // The copy of u from `home` has arrived (bytes of it): the diffs held meanwhile applied, mapped.
  // state_mu held.
  void installed(std::uint64_t u, int home, std::uint64_t bytes) {
    bump(ctx_.stats.units_fetched);
    DSM_TRACE_NOTE(fetch, u, home, bytes);
    auto it = held_.find(u);
    for (const held_diff& d : it->second) apply_now(u, d.offset, d.span, d.bytes);
    held_.erase(it);
    ctx_.table->set_state(u, holding::copy);
    ctx_.table->map(u);
  }

  // Engine side, state_mu held: a diff from `from` for unit u.
  void apply(std::uint64_t u, std::uint32_t offset, std::uint64_t span, std::span<const std::byte> diff, int from) {
    if (!diff_valid(diff, span)) fatal("malformed diff of unit %llu from rank %d", static_cast<unsigned long long>(u), from);
    // (Held only where this rank is not the home: while a first miss waits for the manager's answer,
    // the engine may already serve u as its home, and its diffs belong in the home copy at once.)
    auto it = held_.find(u);
    if (it != held_.end() && ctx_.table->home(u) != ctx_.rank) {
      it->second.push_back({offset, span, std::vector<std::byte>(diff.begin(), diff.end())});
      return;
    }
    if (ctx_.table->state(u) == holding::invalid) return;  // no copy here: nothing to update
    // A home copy that node-mates read directly changes under a raised sequence number (while the
    // home writes the unit it is raised already).
    const bool bracket = node_home(u) && ctx_.table->state(u) != holding::dirty;
    if (bracket) node_homes_->begin_change(u);
    apply_now(u, offset, span, diff);
    if (bracket) node_homes_->end_change(u);
  }

  void apply_now(std::uint64_t u, std::uint32_t offset, std::uint64_t span, std::span<const std::byte> diff) {
    diff_apply(diff, ctx_.space->runtime_unit(u) + offset, span);
    auto t = twins_.find(u);
    if (t != twins_.end() && ctx_.table->state(u) == holding::dirty) diff_apply(diff, t->second.get() + offset, span);
    bump(ctx_.stats.diffs_applied);
    DSM_TRACE_NOTE(diff_applied, u, -1, diff.size());
  }

  void send_unit(int r, std::uint64_t u) {
    const std::uint64_t total = ctx_.table->extent(u);
    // A unit this home is writing holds its unreleased writes: intermediate values. Its diff at the
    // release carries only the bytes whose final value differs from the twin, so a copy sent an
    // intermediate byte that ends equal to the twin (an unchanged high byte of a double, a value
    // written and written back) would keep it for ever. Send the twin instead: the unit as released
    // so far, with every diff that arrived since applied to it; the diff then brings the copy up.
    auto t = twins_.find(u);
    const bool dirty = t != twins_.end() && ctx_.table->state(u) == holding::dirty;
    const std::byte* data = dirty ? t->second.get() : ctx_.space->runtime_unit(u);
    header h{.type = msg::unit_data, .to = inbox::app, .flags = kGrantRead, .id = u};
    ctx_.post_pieces(r, h, std::span<const std::byte>(data, total), span_);
  }

  // Application thread, op_mu held: push every dirty unit's diff and wait until every copy has it.
  void flush() {
    if (dirty_.empty()) return;
    struct outgoing {
      std::uint64_t u;
      std::uint32_t offset;
      std::vector<std::byte> diff;
    };
    std::vector<outgoing> diffs;
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      unit_table::batch protections(*ctx_.table);  // one mprotect per run of units
      for (std::uint64_t u : dirty_) {
        // Read-only first, so that the bytes cannot change while they are compared. From here on
        // node-mates may copy the home copy: it holds this rank's writes, and the diff that follows
        // (forwarded to them too) sets the same bytes to the same values again.
        ctx_.table->set_state(u, holding::copy);
        if (node_home(u)) node_homes_->end_change(u);
        auto t = twins_.find(u);
        DSM_REQUIRE(t != twins_.end(), "eager release: dirty unit %llu has no twin", static_cast<unsigned long long>(u));
        const std::byte* now = ctx_.space->runtime_unit(u);
        const std::uint64_t extent = ctx_.table->extent(u);
        for (std::uint64_t off = 0; off < extent; off += span_) {
          std::vector<std::byte> diff;
          if (diff_encode(t->second.get() + off, now + off, std::min(span_, extent - off), diff) == 0) continue;
          DSM_INVARIANT(diff_reproduces(diff, t->second.get() + off, now + off, std::min(span_, extent - off)),
                        "the diff of unit %llu at %llu does not turn its twin into the unit",
                        static_cast<unsigned long long>(u), static_cast<unsigned long long>(off));
          bump(ctx_.stats.diffs_created);
          DSM_TRACE_NOTE(diff_created, u, -1, diff.size());
          if (diff.size() <= ctx_.net->max_payload()) {
            diffs.push_back({u, static_cast<std::uint32_t>(off), std::move(diff)});
            continue;
          }
          // Many small runs: several messages, each a diff of its own (never the span whole, which
          // would overwrite other writers' bytes with this rank's stale copy of them).
          for (auto& piece : diff_split(diff, ctx_.net->max_payload()))
            diffs.push_back({u, static_cast<std::uint32_t>(off), std::move(piece)});
        }
        twins_.erase(t);
      }
      dirty_.clear();
    }
    // Send with a window, so that the acknowledgements never fill this rank's inbox while it is
    // still sending (each diff may be acknowledged by every rank).
    app_op op;
    op.expect_a = msg::diff_ack;
    op.any_id = true;
    // A copy's acknowledgement may come before the home's, which says how many to expect: until
    // the home has answered, count its diff as `ranks` acknowledgements outstanding.
    auto outstanding = [&](const app_op& o) {
      const std::int64_t unanswered = static_cast<std::int64_t>(o.homes_needed - o.homes_acked);
      return unanswered * ctx_.ranks + static_cast<std::int64_t>(o.acks_needed) - static_cast<std::int64_t>(o.acks);
    };
    const std::int64_t window = 8 * static_cast<std::int64_t>(ctx_.ranks);
    for (const outgoing& o : diffs) {
      ctx_.wait(op, [&](const app_op& x) { return outstanding(x) + ctx_.ranks <= window; });
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      const int home = ctx_.table->home(o.u);
      if (home == ctx_.rank) {
        // This rank keeps the master: forward to the copies directly.
        for_each_copy(o.u, [&](int c) {
          if (c == ctx_.rank) return;
          header fwd{.type = msg::diff_fwd, .to = inbox::engine, .origin = ctx_.rank, .id = o.u, .arg2 = span_,
                     .offset = o.offset};
          ctx_.post(c, fwd, o.diff);
          ++op.acks_needed;
        });
      } else {
        header h{.type = msg::diff_push, .to = inbox::engine, .id = o.u, .arg2 = span_, .offset = o.offset};
        ctx_.post(home, h, o.diff);
        ++op.homes_needed;
      }
    }
    ctx_.wait(op, [](const app_op& x) { return x.homes_acked == x.homes_needed && x.acks == x.acks_needed; });
  }

  struct held_diff {
    std::uint32_t offset;
    std::uint64_t span;
    std::vector<std::byte> bytes;
  };

  context& ctx_;
  node_homes* node_homes_;  // the node-local fast path for unit data, if in use
  home_map homes_;
  const std::uint64_t span_;  // diffs cover at most this many bytes of a unit each
  std::unordered_map<std::uint64_t, std::unique_ptr<std::byte[]>> twins_;
  std::vector<std::uint64_t> dirty_;
  std::unordered_map<std::uint64_t, std::vector<held_diff>> held_;  // units being fetched
};

}  // namespace

// The home holds a clean copy of every unit as allocated, decided per unit; node-mates read it.
const model_entry eager_release_model{
    dsm::model::eager_release,
    [](const options&) {
      return model_setup{.at_home = holding::copy, .homes = unit_table::homes::decided, .node_homes = true};
    },
    [](context& ctx, const protocol_parts& parts) -> std::unique_ptr<protocol> {
      return std::make_unique<eager_release>(ctx, parts);
    }};

}  // namespace dsm::rt
