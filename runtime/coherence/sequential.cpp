// sequential.cpp: sequential consistency (IVY, Li & Hudak): single writer / multiple readers,
// write-invalidate, a fixed distributed manager per unit (its home, unit % ranks), ownership moving
// to the writer.
//
// A read miss asks the home; the home adds the reader to the copyset and forwards to the owner,
// which downgrades itself to read-only and sends the data. A write miss asks the home; the home
// sends an invalidation to every other copy holder (each acknowledges to the writer) and forwards
// to the owner, which gives up the unit and sends the data (or only the grant, if the writer still
// holds a valid copy). The writer installs the unit once it has the data and every
// acknowledgement, then confirms to the home, which serves the unit's next queued request. So the
// home handles one request per unit at a time, and every rank sees the writes to a unit in the
// order the home granted them.
#include <deque>
#include <unordered_map>
#include <utility>

#include "base/invariant.hpp"
#include "base/log.hpp"
#include "base/trace.hpp"
#include "coherence/protocol.hpp"
#include "memory/global_space.hpp"

namespace dsm::rt {
namespace {

class sequential final : public protocol {
 public:
  explicit sequential(context& ctx) : ctx_(ctx) {}

  void read_miss(std::uint64_t u) override { miss(u, false); }
  void write_miss(std::uint64_t u) override { miss(u, true); }

  void handle(const header& h, std::span<const std::byte>) override {
    const std::uint64_t u = h.id;
    switch (h.type) {
      case msg::read_req: serve_read(u, h.src); break;
      case msg::write_req: serve_write(u, h.src); break;
      case msg::read_fwd: give_copy(u, h.origin); break;
      case msg::write_fwd: give_ownership(u, h.origin, h.arg, h.arg2 != 0); break;
      case msg::invalidate: {
        ctx_.table->set_state(u, holding::invalid);
        bump(ctx_.stats.invalidations);
        DSM_TRACE_NOTE(invalidate, u, h.origin);
        header ack{.type = msg::inv_ack, .to = inbox::app, .id = u};
        ctx_.post(h.origin, ack);
        break;
      }
      case msg::confirm: confirmed(u, h.src); break;
      default: fatal("sequential protocol: unexpected %s from rank %d", msg_name(h.type), h.src);
    }
  }

  void handle_reply(app_op& op, const header& h, std::span<const std::byte> payload) override {
    if (h.type == msg::inv_ack) {
      ++op.acks;
      return;
    }
    // unit_data: validated already (offset + length <= total <= unit size).
    if (!payload.empty()) {
      std::memcpy(ctx_.space->runtime_unit(h.id) + h.offset, payload.data(), payload.size());
      op.data_received += payload.size();
    }
    op.data_total = h.arg2;
    op.acks_needed = h.arg;
    op.granted_access = h.flags == kGrantWrite ? access::write : access::read;
    op.granted = true;
  }

 private:
  enum class want { read, write };

  // Application thread.
  void miss(std::uint64_t u, bool write) {
    std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      // Another thread of this rank may have fetched it meanwhile.
      if (ctx_.table->map_if_allowed(u, write)) return;
      bump(write ? ctx_.stats.write_misses : ctx_.stats.read_misses);
      header req{.type = write ? msg::write_req : msg::read_req, .to = inbox::engine, .id = u};
      ctx_.post(ctx_.table->home(u), req);
    }
    // The page the data will fill, allocated while the request is on its way: its first write
    // would fault in the middle of the reply (a few microseconds, more in a virtual machine).
    global_space::prefault(ctx_.space->runtime_unit(u), ctx_.table->extent(u));
    app_op op;
    op.expect_a = msg::unit_data;
    op.expect_b = msg::inv_ack;
    op.id = u;
    ctx_.wait(op, [](const app_op& o) { return o.unit_complete(); });
    if (op.data_total != 0) bump(ctx_.stats.units_fetched);
    if (op.data_total != 0) DSM_TRACE_NOTE(fetch, u, -1, op.data_total);
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      ctx_.table->set_state(u, op.granted_access == access::write ? holding::owner_sole : holding::copy);
      ctx_.table->map(u);
      // Nobody waits for the confirmation: the home needs it only before the unit's next request,
      // which rings the doorbell and finds it queued ahead.
      header done{.type = msg::confirm, .to = inbox::engine, .id = u};
      ctx_.post(ctx_.table->home(u), done, {}, false);
    }
  }

  // Home side. One request per unit at a time; the rest wait for the confirmation.
  bool queue_if_busy(std::uint64_t u, want w, int r) {
    if (!ctx_.table->busy(u)) {
      ctx_.table->set_busy(u, true);
      return false;
    }
    waiting_[u].emplace_back(w, r);
    // Confirmations are sent with wake=false. While requests wait for one, the engine asks to be
    // woken by them; and one that already sits unannounced in its inbox is found by ringing (a
    // request from another rank rings by itself; one from this rank's own thread does not).
    ctx_.net->set_attentive(inbox::engine, true);
    if (r == ctx_.rank) ctx_.net->ring(inbox::engine);
    return true;
  }

  void serve_read(std::uint64_t u, int r) {
    if (queue_if_busy(u, want::read, r)) return;
    const int owner = ctx_.table->owner(u);
    DSM_REQUIRE(owner != r, "rank %d asked for a read copy of unit %llu which it owns", r, static_cast<unsigned long long>(u));
    ctx_.table->add_copy(u, r);
    DSM_INVARIANT(ctx_.table->in_copyset(u, owner), "home of unit %llu: owner %d not in the copyset",
                  static_cast<unsigned long long>(u), owner);
    header fwd{.type = msg::read_fwd, .to = inbox::engine, .origin = r, .id = u};
    ctx_.post(owner, fwd);
  }

  void serve_write(std::uint64_t u, int r) {
    if (queue_if_busy(u, want::write, r)) return;
    const int owner = ctx_.table->owner(u);
    const bool has_copy = ctx_.table->in_copyset(u, r);
    std::uint64_t acks = 0;
    ctx_.table->for_each_copy(u, [&](int c) {
      if (c == r || c == owner) return;
      header inv{.type = msg::invalidate, .to = inbox::engine, .origin = r, .id = u};
      ctx_.post(c, inv);
      ++acks;
    });
    ctx_.table->clear_copyset(u);
    ctx_.table->add_copy(u, r);
    ctx_.table->set_owner(u, r);
    DSM_INVARIANT(acks < static_cast<std::uint64_t>(ctx_.ranks), "unit %llu: %llu invalidations for %d ranks",
                  static_cast<unsigned long long>(u), static_cast<unsigned long long>(acks), ctx_.ranks);
    if (owner == r) {  // an upgrade: the writer's read copy is current
      header grant{.type = msg::unit_data, .to = inbox::app, .flags = kGrantWrite, .id = u, .arg = acks, .arg2 = 0};
      ctx_.post(r, grant);
      return;
    }
    header fwd{.type = msg::write_fwd, .to = inbox::engine, .origin = r, .id = u, .arg = acks, .arg2 = has_copy ? 1u : 0u};
    ctx_.post(owner, fwd);
  }

  void confirmed(std::uint64_t u, int r) {
    DSM_REQUIRE(ctx_.table->busy(u), "confirmation of unit %llu from rank %d, which has no request in progress",
              static_cast<unsigned long long>(u), r);
    ctx_.table->set_busy(u, false);
    auto it = waiting_.find(u);
    if (it == waiting_.end()) return;
    auto [w, next] = it->second.front();
    it->second.pop_front();
    if (it->second.empty()) waiting_.erase(it);
    if (waiting_.empty()) ctx_.net->set_attentive(inbox::engine, false);
    if (w == want::read) serve_read(u, next);
    else serve_write(u, next);
  }

  // Owner side.
  void give_copy(std::uint64_t u, int r) {
    const holding s = ctx_.table->state(u);
    DSM_REQUIRE(s == holding::owner_sole || s == holding::owner_shared, "read forward for unit %llu, which this rank does not own",
              static_cast<unsigned long long>(u));
    if (s == holding::owner_sole) ctx_.table->set_state(u, holding::owner_shared);  // no more writes from here
    send_unit(r, u, access::read, 0, true);
  }

  void give_ownership(std::uint64_t u, int r, std::uint64_t acks, bool has_copy) {
    const holding s = ctx_.table->state(u);
    DSM_REQUIRE(s == holding::owner_sole || s == holding::owner_shared, "write forward for unit %llu, which this rank does not own",
              static_cast<unsigned long long>(u));
    ctx_.table->set_state(u, holding::invalid);  // protected before its bytes are read
    DSM_TRACE_NOTE(invalidate, u, r);
    send_unit(r, u, access::write, acks, !has_copy);
  }

  void send_unit(int r, std::uint64_t u, access a, std::uint64_t acks, bool with_data) {
    const std::uint64_t total = with_data ? ctx_.table->extent(u) : 0;
    header h{.type = msg::unit_data, .to = inbox::app, .flags = a == access::write ? kGrantWrite : kGrantRead,
             .id = u, .arg = acks};
    ctx_.post_pieces(r, h, std::span<const std::byte>(ctx_.space->runtime_unit(u), total), ctx_.net->max_payload());
  }

  context& ctx_;
  std::unordered_map<std::uint64_t, std::deque<std::pair<want, int>>> waiting_;
};

}  // namespace

// The home owns every unit as allocated; homes are fixed.
const model_entry sequential_model{dsm::model::sequential, [](const options&) { return model_setup{}; },
                                   [](context& ctx, const protocol_parts&) -> std::unique_ptr<protocol> {
                                     return std::make_unique<sequential>(ctx);
                                   }};

}  // namespace dsm::rt
