// homes.cpp: see homes.hpp.
#include "coherence/homes.hpp"

#include "alloc/allocator.hpp"
#include "alloc/arenas.hpp"
#include "base/log.hpp"
#include "coherence/node_homes.hpp"

namespace dsm::rt {

int home_map::placed(std::uint64_t u, bool* claim) const {
  const auto ranks = static_cast<std::uint64_t>(ctx_.ranks);
  const std::uint64_t unit = ctx_.space->unit();
  const auto a = parts_.heap->containing(u * unit);
  // The allocation's own placement (dsm::alloc's `where`), else DSM_HOME's.
  home_policy policy = ctx_.opt.home;
  if (const auto own = a ? parts_.heap->placement_of(a->first) : std::nullopt) {
    policy = *own == dsm::placement::cyclic ? home_policy::cyclic
             : *own == dsm::placement::block ? home_policy::block
                                             : home_policy::first_touch;
  }
  *claim = policy == home_policy::first_touch;
  if (policy == home_policy::cyclic) return static_cast<int>(u % ranks);
  // A rank's arena is its block.
  if (const int owner = parts_.arena->owner_of(ctx_.space->app_unit(u)); owner >= 0) return owner;
  // Block, or first touch's manager: the rank whose block of the allocation holds u. Outside any
  // allocation (a stray pointer), cyclic.
  if (!a) return static_cast<int>(u % ranks);
  const std::uint64_t first = a->first / unit, count = a->second / unit;
  return static_cast<int>((u - first) * ranks / count);
}

int home_map::resolve(std::uint64_t u) {
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    if (const int h = ctx_.table->home(u); h >= 0) return h;
  }
  bool claim = false;
  const int at = placed(u, &claim);
  if (claim && parts_.homes && parts_.homes->reaches(at)) {  // the manager's claims are in shared memory
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    if (ctx_.table->home(u) < 0) ctx_.table->set_home(u, parts_.homes->claim(at, u, ctx_.rank));
    return ctx_.table->home(u);
  }
  if (!claim || at == ctx_.rank) {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    if (ctx_.table->home(u) < 0) ctx_.table->set_home(u, claim ? ctx_.rank : at);
    return ctx_.table->home(u);
  }
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    header req{.type = msg::home_claim, .to = inbox::engine, .id = u};
    ctx_.post(at, req);
  }
  app_op op;
  op.expect_a = msg::home_is;
  op.id = u;
  ctx_.wait(op, [](const app_op& o) { return o.done; });
  std::lock_guard<runtime_mutex> g(ctx_.state_mu);
  learned(u, static_cast<int>(op.data_total));
  return ctx_.table->home(u);
}

bool home_map::adopt(std::uint64_t u) {
  if (ctx_.table->home(u) < 0) ctx_.table->set_home(u, ctx_.rank);
  return ctx_.table->home(u) == ctx_.rank;
}

int home_map::manager_to_ask(std::uint64_t u) {
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    if (ctx_.table->home(u) >= 0) return -1;
  }
  bool claim = false;
  const int at = placed(u, &claim);
  if (!claim || at == ctx_.rank || (parts_.homes && parts_.homes->reaches(at))) return -1;
  return at;
}

int home_map::decide(std::uint64_t u, int claimer) {
  if (ctx_.table->home(u) < 0) ctx_.table->set_home(u, parts_.homes ? parts_.homes->claim(ctx_.rank, u, claimer) : claimer);
  return ctx_.table->home(u);
}

void home_map::learned(std::uint64_t u, int home) {
  if (ctx_.table->home(u) < 0) ctx_.table->set_home(u, home);
}

void home_map::handle(const header& h) {
  DSM_REQUIRE(h.type == msg::home_claim, "homes: unexpected %s from rank %d", msg_name(h.type), h.src);
  header reply{.type = msg::home_is, .to = inbox::app, .id = h.id, .arg = static_cast<std::uint64_t>(decide(h.id, h.src))};
  ctx_.post(h.src, reply);
}

void home_map::handle_reply(app_op& op, const header& h) {
  op.data_total = h.arg;  // the home
  op.done = true;
}

}  // namespace dsm::rt
