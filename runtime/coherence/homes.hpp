// homes.hpp: where the release models keep each unit's home copy (DSM_HOME), decided unit by unit.
//
// - cyclic: unit % ranks;
// - block: each allocation cut into one block of units per rank, in rank order;
// - first-touch (the default): the first rank that claims the unit. Home-based lazy release claims
//   at a unit's first write, eager release at its first access. A claim is decided by the unit's
//   manager, the rank whose block (as in `block`) holds the unit, so in the usual SPMD program, in
//   which each rank initialises its own block, claiming sends no message; any other claim costs one
//   round trip (home_claim, home_is); eager release's first miss asks the manager for the unit and
//   its home at once instead (manager_to_ask, decide, learned; eager_release.cpp).
// An allocation may choose its own placement (dsm::alloc's `where`, kept by the allocator), and a
// rank's arena (alloc/arenas.hpp) counts as its own block.
// Every rank remembers the homes it has learned (by claiming, from the write notices that name them,
// from requests that reach it as the home) in its unit table; an allocation's units forget theirs
// when it is freed. Where the node-local fast path is in use, the manager keeps its claims in shared
// memory, so a node-mate claims with one compare-and-swap and no message (coherence/node_homes.hpp).
//
// resolve() runs on the application thread with op_mu held and state_mu not (it reads the
// allocator and may wait for the manager). handle() runs with state_mu held, on the engine or on
// this rank's own thread through context::post.
#ifndef DSM_RUNTIME_COHERENCE_HOMES_HPP_
#define DSM_RUNTIME_COHERENCE_HOMES_HPP_

#include <cstdint>

#include "coherence/protocol.hpp"
#include "engine/context.hpp"

namespace dsm::rt {

class home_map {
 public:
  home_map(context& ctx, const protocol_parts& parts) : ctx_(ctx), parts_(parts) {}
  // The home of u, decided now if no rank has decided it yet.
  int resolve(std::uint64_t u);
  // A request about u reached this rank as its home: remember that, if nothing was known here
  // (cyclic and block homes are computed by the asking rank; a first-touch home has claimed). False
  // if this rank knows another home for u. state_mu held.
  bool adopt(std::uint64_t u);
  // If learning u's home takes a message (a first-touch claim at a manager that is neither this
  // rank nor a node-mate), that manager; else -1. state_mu not held.
  int manager_to_ask(std::uint64_t u);
  // At u's manager, state_mu held: u's home, decided now for `claimer` if no rank has claimed it.
  int decide(std::uint64_t u, int claimer);
  // The home u's manager answered; state_mu held.
  void learned(std::uint64_t u, int home);
  // home_claim, at the unit's manager.
  void handle(const header& h);
  // home_is, for the application thread's claim.
  void handle_reply(app_op& op, const header& h);

 private:
  // The home DSM_HOME gives u, or under first touch, its manager (*claim set).
  int placed(std::uint64_t u, bool* claim) const;

  context& ctx_;
  protocol_parts parts_;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_COHERENCE_HOMES_HPP_
