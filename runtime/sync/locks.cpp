// locks.cpp: see locks.hpp.
#include "sync/locks.hpp"

#include "base/invariant.hpp"
#include "base/log.hpp"
#include "base/trace.hpp"
#include "coherence/protocol.hpp"
#include "dsm/dsm.hpp"

namespace dsm::rt {

lock_service::lock_state& lock_service::state(std::uint64_t id) {
  auto [it, fresh] = locks_.try_emplace(id);
  if (fresh) ctx_.stats.lock_records.store(locks_.size(), std::memory_order_relaxed);
  if (fresh && manager(id) == ctx_.rank) {
    it->second.have_token = true;  // a lock starts free, its token at its manager
    it->second.last = ctx_.rank;
  }
  return it->second;
}

void lock_service::pass_token(std::uint64_t id, lock_state& s, int to, std::span<const std::byte> request) {
  DSM_INVARIANT(s.have_token && !s.held && to >= 0 && to < ctx_.ranks,
                "lock %llu: rank %d passes the token to rank %d (has it: %d, holds the lock: %d)",
                static_cast<unsigned long long>(id), ctx_.rank, to, s.have_token, s.held);
  s.have_token = false;
  header t{.type = msg::lock_token, .to = inbox::app, .id = id};
  sync_payloads* p = proto_.payloads();
  ctx_.post_bulk(to, t, p ? p->token_for(to, request) : std::vector<std::byte>{});
}

std::atomic<std::uint64_t>* lock_service::node_word(std::uint64_t id, lock_state& s) {
  if (!s.word_known && node_) s.word = node_->word(id);
  s.word_known = true;
  return s.word;
}

void lock_service::enqueue(std::uint64_t id, lock_state& s, std::span<const std::byte> request) {
  const int prev = node_->enqueue(*s.word, manager(id));
  DSM_INVARIANT(prev != ctx_.rank, "lock %llu: rank %d queued behind itself", static_cast<unsigned long long>(id), ctx_.rank);
  if (prev == node_locks::kAsk) {  // the first of a run on this node: through the manager
    header req{.type = msg::lock_acq, .to = inbox::engine, .origin = ctx_.rank, .id = id};
    ctx_.post(manager(id), req, request);
    return;
  }
  header fwd{.type = msg::lock_fwd, .to = inbox::engine, .origin = ctx_.rank, .id = id};
  ctx_.post(prev, fwd, request);
}

void lock_service::serve(std::uint64_t id, lock_state& s, int origin, std::span<const std::byte> request) {
  if (s.have_token && !s.held) {
    pass_token(id, s, origin, request);
    if (s.requeue) {  // this rank's own acquire waited for this hand-off to queue
      s.requeue = false;
      enqueue(id, s, s.requeue_request);
      s.requeue_request.clear();
    }
    return;
  }
  DSM_REQUIRE(s.next < 0, "lock %llu: a second successor for rank %d", static_cast<unsigned long long>(id), ctx_.rank);
  s.next = origin;
  s.next_request.assign(request.begin(), request.end());
}

void lock_service::acquire(std::uint64_t id) {
  trace::span traced(trace::ev::acquire, id, manager(id));
  std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    lock_state& s = state(id);
    if (s.held) throw dsm::error("dsm::mutex " + std::to_string(id) + ": acquired twice by rank " +
                                 std::to_string(ctx_.rank) + " (locks are not recursive)");
    bump(ctx_.stats.lock_acquires);
    std::atomic<std::uint64_t>* w = node_word(id, s);
    if (s.have_token && (w == nullptr || s.outside || node_->take_kept(*w, manager(id)))) {
      s.held = true;
      return;
    }
    bump(ctx_.stats.remote_lock_acquires);
    if (w == nullptr) {
      header req{.type = msg::lock_acq, .to = inbox::engine, .origin = ctx_.rank, .id = id};
      ctx_.post(manager(id), req, request_data());
    } else if (s.have_token) {
      // A try may have claimed the lock from this rank and its request is still on its way: it
      // gets the token first, then this rank queues (handle(), lock_fwd). Queueing now could let a
      // later request reach this rank before that one and take the token out of turn.
      s.requeue = true;
      s.requeue_request = request_data();
    } else {
      enqueue(id, s, request_data());
    }
  }
  await_token(id, false, false);
}

bool lock_service::try_acquire(std::uint64_t id) {
  trace::span traced(trace::ev::acquire, id, manager(id));
  std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
  bool claimed = false;  // from this node's word (else through the manager)
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    lock_state& s = state(id);
    if (s.held) return false;
    std::atomic<std::uint64_t>* w = node_word(id, s);
    if (s.have_token) {
      if (w != nullptr && !s.outside && !node_->take_kept(*w, manager(id))) return false;  // a try claimed it
      s.held = true;
      bump(ctx_.stats.lock_acquires);
      return true;
    }
    // Only from a free lock: its holder passes the token as soon as the request arrives.
    const int prev = w == nullptr ? node_locks::kAsk : node_->claim_if_free(*w, manager(id));
    if (prev == node_locks::kBusy) return false;
    DSM_INVARIANT(prev != ctx_.rank, "lock %llu: rank %d claimed its own token", static_cast<unsigned long long>(id), ctx_.rank);
    claimed = prev != node_locks::kAsk;
    if (claimed) {
      header fwd{.type = msg::lock_fwd, .to = inbox::engine, .origin = ctx_.rank, .id = id};
      ctx_.post(prev, fwd, request_data());
    } else {  // the manager probes the last to have asked; this rank does not join the word
      s.outside = w != nullptr;
      header req{.type = msg::lock_try, .to = inbox::engine, .origin = ctx_.rank, .id = id};
      ctx_.post(manager(id), req, request_data());
    }
  }
  if (!await_token(id, true, claimed)) return false;
  bump(ctx_.stats.lock_acquires);
  bump(ctx_.stats.remote_lock_acquires);
  return true;
}

std::vector<std::byte> lock_service::request_data() {
  sync_payloads* p = proto_.payloads();
  return p ? p->acquire_request() : std::vector<std::byte>{};
}

bool lock_service::await_token(std::uint64_t id, bool try_only, bool claimed) {
  app_op op;
  op.expect_a = msg::lock_token;
  if (try_only) op.expect_b = msg::lock_try_fail;
  op.id = id;
  ctx_.wait(op, [](const app_op& o) { return o.done || o.failed; });
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    lock_state& s = state(id);
    if (op.failed) {
      s.outside = false;  // the manager did not queue this rank
      return false;
    }
    DSM_INVARIANT(!s.have_token && !s.held, "lock %llu: a token arrived at rank %d, which already had one",
                  static_cast<unsigned long long>(id), ctx_.rank);
    s.have_token = true;
    s.held = true;
    // A request forwarded to this rank while it waited is passed on at its release.
    if (claimed) node_->end_try(*s.word);  // the claim is over: holders may re-take kept tokens
  }
  if (sync_payloads* p = proto_.payloads()) p->on_token(op.from, op.payload);
  return true;
}

void lock_service::release(std::uint64_t id) {
  trace::span traced(trace::ev::release, id);
  std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    auto it = locks_.find(id);
    if (it == locks_.end() || !it->second.held) {
      throw dsm::error("dsm::mutex " + std::to_string(id) + ": released by rank " + std::to_string(ctx_.rank) +
                       ", which does not hold it");
    }
  }
  proto_.on_release(id);
  std::lock_guard<runtime_mutex> g(ctx_.state_mu);
  lock_state& s = state(id);
  s.held = false;
  if (s.next >= 0) {
    const int to = s.next;
    s.next = -1;
    pass_token(id, s, to, s.next_request);
    s.next_request.clear();
  } else if (s.word != nullptr) {
    node_->mark_free(*s.word);
  }
}

std::optional<std::uint64_t> lock_service::any_held() {
  std::lock_guard<runtime_mutex> g(ctx_.state_mu);
  for (const auto& [id, s] : locks_)
    if (s.held) return id;
  return std::nullopt;
}

bool lock_service::holds(std::uint64_t id) {
  std::lock_guard<runtime_mutex> g(ctx_.state_mu);
  auto it = locks_.find(id);
  return it != locks_.end() && it->second.held;
}

void lock_service::manager_request(const header& h, std::span<const std::byte> request) {
  lock_state& s = state(h.id);
  if (s.probing) {
    s.held_back.emplace_back(h, std::vector<std::byte>(request.begin(), request.end()));
    return;
  }
  DSM_INVARIANT(s.last >= 0 && s.last < ctx_.ranks, "lock %llu: manager's last requester is rank %d",
                static_cast<unsigned long long>(h.id), s.last);
  if (h.type == msg::lock_acq) {
    const int prev = s.last;
    DSM_REQUIRE(prev != h.origin, "lock %llu: rank %d asked again before passing the token on",
              static_cast<unsigned long long>(h.id), h.origin);
    s.last = h.origin;
    header fwd{.type = across_nodes_ ? msg::lock_fwd_node : msg::lock_fwd, .to = inbox::engine, .origin = h.origin, .id = h.id};
    ctx_.post(prev, fwd, request);
  } else {  // lock_try
    s.probing = true;
    header fwd{.type = msg::lock_try_fwd, .to = inbox::engine, .origin = h.origin, .id = h.id};
    ctx_.post(s.last, fwd, request);
  }
}

void lock_service::handle(const header& h, std::span<const std::byte> payload) {
  switch (h.type) {
    case msg::lock_acq:
    case msg::lock_try:
      DSM_REQUIRE(manager(h.id) == ctx_.rank, "lock request for lock %llu at rank %d, not its manager",
                static_cast<unsigned long long>(h.id), ctx_.rank);
      manager_request(h, payload);
      break;
    case msg::lock_fwd:
      serve(h.id, state(h.id), h.origin, payload);
      break;
    case msg::lock_fwd_node:
      forward_to_run(h, payload);
      break;
    case msg::lock_try_fwd:
      probe_run(h, payload);
      break;
    case msg::lock_claim_fwd: {
      lock_state& s = state(h.id);
      DSM_INVARIANT(s.have_token && !s.held && s.next < 0 && s.word != nullptr,
                    "lock %llu: rank %d asked to pass a claimed token (has it: %d, holds the lock: %d, successor: %d)",
                    static_cast<unsigned long long>(h.id), ctx_.rank, s.have_token, s.held, s.next);
      serve(h.id, s, h.origin, payload);
      node_->end_try(*s.word);
      break;
    }
    case msg::lock_try_done: {
      lock_state& s = state(h.id);
      DSM_REQUIRE(s.probing, "lock %llu: a probe result without a probe", static_cast<unsigned long long>(h.id));
      s.probing = false;
      if (h.arg != 0) {
        s.last = h.origin;
      } else {
        header fail{.type = msg::lock_try_fail, .to = inbox::app, .id = h.id};
        ctx_.post(h.origin, fail);
      }
      while (!s.probing && !s.held_back.empty()) {
        auto [next, request] = std::move(s.held_back.front());
        s.held_back.pop_front();
        manager_request(next, request);
      }
      break;
    }
    default: fatal("lock service: unexpected %s from rank %d", msg_name(h.type), h.src);
  }
}

void lock_service::forward_to_run(const header& h, std::span<const std::byte> request) {
  lock_state& s = state(h.id);
  std::atomic<std::uint64_t>* w = node_word(h.id, s);
  if (w == nullptr || s.outside) {  // this rank's own place in the queue
    s.outside = false;
    serve(h.id, s, h.origin, request);
    return;
  }
  const int last = node_->close_run(*w, manager(h.id));
  DSM_REQUIRE(last >= 0, "lock %llu: a request forwarded to rank %d's run, but its node has none",
              static_cast<unsigned long long>(h.id), ctx_.rank);
  if (last == ctx_.rank) {
    serve(h.id, s, h.origin, request);
  } else {
    header fwd{.type = msg::lock_fwd, .to = inbox::engine, .origin = h.origin, .id = h.id};
    ctx_.post(last, fwd, request);
  }
}

void lock_service::probe_run(const header& h, std::span<const std::byte> request) {
  lock_state& s = state(h.id);
  std::atomic<std::uint64_t>* w = node_word(h.id, s);
  const bool own = w == nullptr || s.outside;  // this rank's own place in the queue, not a run's
  int last = ctx_.rank;
  bool passed = false;
  if (own) {
    passed = s.have_token && !s.held && s.next < 0;
    if (passed) s.outside = false;
  } else {
    last = node_->close_run_if_free(*w, manager(h.id));
    passed = last != node_locks::kBusy;
  }
  header done{.type = msg::lock_try_done, .to = inbox::engine, .origin = h.origin, .id = h.id, .arg = passed ? 1u : 0u};
  ctx_.post(manager(h.id), done);
  if (!passed) return;
  if (last != ctx_.rank) {  // the run's last rank keeps the token: it ends the claim
    header claim{.type = msg::lock_claim_fwd, .to = inbox::engine, .origin = h.origin, .id = h.id};
    ctx_.post(last, claim, request);
    return;
  }
  serve(h.id, s, h.origin, request);
  if (!own) node_->end_try(*w);
}

bool lock_service::forget(std::uint64_t id) {
  std::lock_guard<runtime_mutex> g(ctx_.state_mu);
  auto it = locks_.find(id);
  if (it != locks_.end()) {
    const lock_state& s = it->second;
    DSM_INVARIANT(!s.held && s.next < 0 && !s.requeue, "lock %llu forgotten by rank %d while in use",
                  static_cast<unsigned long long>(id), ctx_.rank);
    if (s.probing || !s.held_back.empty()) return false;
  }
  // The node's first rank puts the word back to "token at the manager, free" (or "away", off the
  // manager's node) before any rank can use the id again (the caller's next collective call orders
  // that), as every rank's own state goes back.
  if (node_ && node_->resets_words()) {
    std::atomic<std::uint64_t>* w = it != locks_.end() && it->second.word_known ? it->second.word : node_->word(id);
    if (w != nullptr) node_->reset(*w);
  }
  if (it != locks_.end()) locks_.erase(it);
  ctx_.stats.lock_records.store(locks_.size(), std::memory_order_relaxed);
  return true;
}

void lock_service::handle_reply(app_op& op, const header& h) {
  if (h.type == msg::lock_token) op.done = true;
  else op.failed = true;
}

bool acquire_mutex(protocol& proto, lock_service& locks, std::uint64_t id, bool exclusive, bool try_only) {
  if (lock_server* own = proto.locks()) return own->acquire(id, exclusive, try_only);
  if (try_only) return locks.try_acquire(id);
  locks.acquire(id);
  return true;
}

void release_mutex(protocol& proto, lock_service& locks, std::uint64_t id, bool exclusive) {
  if (lock_server* own = proto.locks()) own->release(id, exclusive);
  else locks.release(id);
}

}  // namespace dsm::rt
