// arenas.hpp: allocation by one rank (dsm::malloc_bytes, dsm::new_), from an arena of its own.
//
// Above the collective heap (DSM_SIZE) the global space holds one arena of DSM_ARENA bytes per
// rank, in rank order. A rank allocates only from its own arena, with Boost.Interprocess's
// red-black-tree best-fit algorithm, whose headers live in the arena itself, beside the blocks: so
// allocating takes no lock any other rank could hold and sends no message. Only the owner ever
// touches an arena's headers. A rank that frees another rank's block sends the owner an
// `arena_free`; the owner's engine checks the block is live, answers `arena_freed`, and queues the
// block, which the owner's application thread gives back to the algorithm at its next allocation
// or free. Every rank's live blocks are kept in a private set, so a bad or double free is refused
// with an answer, never a corrupted arena; the queue of blocks freed by others is bounded by that
// set. Not collective. allocate/free run on the application thread (with op_mu not held); handle()
// on the engine, with state_mu held.
#ifndef DSM_RUNTIME_ALLOC_ARENAS_HPP_
#define DSM_RUNTIME_ALLOC_ARENAS_HPP_

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <unordered_set>
#include <vector>

#include "engine/context.hpp"

namespace dsm::rt {

class arenas {
 public:
  // The arenas occupy [first_byte, first_byte + ranks * per_rank) of the global space.
  arenas(context& ctx, std::uint64_t first_byte, std::uint64_t per_rank);
  ~arenas();
  arenas(const arenas&) = delete;
  arenas& operator=(const arenas&) = delete;

  // The rank whose arena holds p, or -1 if p is outside every arena.
  int owner_of(const void* p) const;
  bool contains(const void* p) const { return owner_of(p) >= 0; }
  // A block of at least `bytes` from this rank's arena, aligned to `align` (a power of two), or
  // null if the arena has no room.
  void* allocate(std::size_t bytes, std::size_t align);
  enum class freed { ok, not_arena, not_live };
  // Gives back a block allocate() returned on any rank. not_arena: p is outside every arena;
  // not_live: no live block starts at p (never allocated, or freed already).
  freed free(void* p);

  // arena_free, at the owner's engine.
  void handle(const header& h);
  // arena_freed, for the application thread's free of another rank's block.
  static void handle_reply(app_op& op, const header& h);

 private:
  class algorithm;
  // Gives the blocks other ranks freed back to the algorithm (application thread). It reads and
  // writes the arena's headers, which may fault: never under mu_.
  void take_back();

  context& ctx_;
  std::byte* base_;          // the first arena, in the application view
  std::uint64_t per_rank_;
  algorithm* mine_ = nullptr;  // this rank's arena's algorithm, made at its first allocation

  // The sets below, which the engine reads too. Never held across an access to the arena itself: a
  // fault there may need this rank's engine, which may be waiting for mu_.
  std::mutex mu_;
  std::unordered_set<std::uint64_t> live_;  // this arena's live blocks, as offsets in the arena
  std::vector<std::uint64_t> returned_;     // freed by other ranks, not yet given back
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_ALLOC_ARENAS_HPP_
