// arenas.cpp: see arenas.hpp.
#include "alloc/arenas.hpp"

#include <boost/interprocess/mem_algo/rbtree_best_fit.hpp>
#include <boost/interprocess/sync/mutex_family.hpp>

#include <new>

#include "base/log.hpp"

namespace dsm::rt {

// Only the owner's application thread runs the algorithm, so it needs no mutex of its own.
class arenas::algorithm
    : public boost::interprocess::rbtree_best_fit<boost::interprocess::null_mutex_family, void*> {
 public:
  using rbtree_best_fit::rbtree_best_fit;
};

arenas::arenas(context& ctx, std::uint64_t first_byte, std::uint64_t per_rank)
    : ctx_(ctx), base_(ctx.space->app_base() + first_byte), per_rank_(per_rank) {
  DSM_REQUIRE(per_rank_ >= algorithm::get_min_size(0), "arenas: %llu bytes a rank is too small",
              static_cast<unsigned long long>(per_rank_));
}

// The algorithm's headers are in the arena, which is released with the global space.
arenas::~arenas() = default;

int arenas::owner_of(const void* p) const {
  const auto a = reinterpret_cast<std::uintptr_t>(p), b = reinterpret_cast<std::uintptr_t>(base_);
  if (a < b || a - b >= per_rank_ * static_cast<std::uint64_t>(ctx_.ranks)) return -1;
  return static_cast<int>((a - b) / per_rank_);
}

void* arenas::allocate(std::size_t bytes, std::size_t align) {
  take_back();
  if (mine_ == nullptr) {
    // The first write to the arena: its home is this rank (first touch, or the block it owns).
    mine_ = ::new (base_ + per_rank_ * static_cast<std::uint64_t>(ctx_.rank)) algorithm(per_rank_, 0);
  }
  if (bytes == 0) bytes = 1;
  void* p = align <= alignof(std::max_align_t) ? mine_->allocate(bytes) : mine_->allocate_aligned(bytes, align);
  if (p == nullptr) return nullptr;
  const std::uint64_t off = static_cast<std::uint64_t>(static_cast<std::byte*>(p) - base_);
  std::lock_guard<std::mutex> g(mu_);
  live_.insert(off);
  return p;
}

arenas::freed arenas::free(void* p) {
  const int owner = owner_of(p);
  if (owner < 0) return freed::not_arena;
  const std::uint64_t off = static_cast<std::uint64_t>(static_cast<std::byte*>(p) - base_);
  if (owner == ctx_.rank) {
    {
      std::lock_guard<std::mutex> g(mu_);
      if (live_.erase(off) == 0) return freed::not_live;
    }
    mine_->deallocate(p);  // the arena's headers may fault: not under mu_
    take_back();
    return freed::ok;
  }
  std::lock_guard<runtime_mutex> op(ctx_.op_mu);
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    ctx_.post(owner, header{.type = msg::arena_free, .to = inbox::engine, .id = off});
  }
  app_op wait;
  wait.expect_a = msg::arena_freed;
  wait.id = off;
  ctx_.wait(wait, [](const app_op& o) { return o.done; });
  return wait.failed ? freed::not_live : freed::ok;
}

void arenas::take_back() {
  std::vector<std::uint64_t> blocks;
  {
    std::lock_guard<std::mutex> g(mu_);
    if (returned_.empty()) return;
    blocks.swap(returned_);
  }
  for (const std::uint64_t off : blocks) mine_->deallocate(base_ + off);
}

void arenas::handle(const header& h) {
  DSM_REQUIRE(h.type == msg::arena_free, "arenas: unexpected %s from rank %d", msg_name(h.type), h.src);
  bool ok;
  {
    std::lock_guard<std::mutex> g(mu_);
    ok = owner_of(base_ + h.id) == ctx_.rank && live_.erase(h.id) == 1;
    if (ok) returned_.push_back(h.id);
  }
  ctx_.post(h.src, header{.type = msg::arena_freed, .to = inbox::app, .id = h.id, .arg = ok ? 1u : 0u});
}

void arenas::handle_reply(app_op& op, const header& h) {
  op.failed = h.arg == 0;
  op.done = true;
}

}  // namespace dsm::rt
