// condvars.cpp: see condvars.hpp.
#include "sync/condvars.hpp"

#include <cstdio>
#include <mutex>
#include <string>

#include "base/invariant.hpp"
#include "base/log.hpp"
#include "base/trace.hpp"
#include "coherence/protocol.hpp"
#include "dsm/dsm.hpp"
#include "sync/locks.hpp"

namespace dsm::rt {

condvar_service::condvar_service(context& ctx, protocol& proto, lock_service& locks)
    : ctx_(ctx), proto_(proto), locks_(locks), left_(static_cast<std::size_t>(ctx.ranks), false) {}

condvar_service::~condvar_service() {
  {
    std::lock_guard<std::mutex> t(timer_mu_);
    timer_stop_ = true;
  }
  timer_cv_.notify_one();
  if (timer_.joinable()) timer_.join();
}

bool condvar_service::holds(std::uint64_t lock) {
  return proto_.locks() ? proto_.locks()->holds_exclusive(lock) : locks_.holds(lock);
}

void condvar_service::sleep_until_woken(std::uint64_t id) {
  app_op op;
  op.expect_a = msg::cv_wake;
  op.id = id;
  ctx_.wait(op, [](const app_op& o) { return o.done; });
}

bool condvar_service::wait(std::uint64_t id, std::uint64_t lock, const clock::time_point* deadline) {
  trace::span traced(trace::ev::cv_wait, id, manager(id));
  const std::string name = "dsm::condition_variable " + std::to_string(id);
  if (!holds(lock)) {
    throw dsm::error(name + ": wait by rank " + std::to_string(ctx_.rank) + ", which does not hold dsm::mutex " +
                     std::to_string(lock));
  }
  enqueue(id, lock, deadline != nullptr, name);
  // Queued: a notify from whoever takes the lock next will find this rank.
  release_mutex(proto_, locks_, lock, true);
  const bool notified = await_signal(id, deadline);
  acquire_mutex(proto_, locks_, lock, true, false);
  return notified;
}

// Asks the manager to queue this rank on `id`, waiting with `lock`.
void condvar_service::enqueue(std::uint64_t id, std::uint64_t lock, bool timed, const std::string& name) {
  std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    DSM_INVARIANT(!waiting_, "rank %d waits on condition variable %llu while it waits on %llu", ctx_.rank,
                  static_cast<unsigned long long>(id), static_cast<unsigned long long>(waiting_on_));
    waiting_ = true;
    waiting_on_ = id;
    sleeping_ = false;
    signalled_ = false;
    timed_out_ = false;
    header req{.type = msg::cv_wait, .to = inbox::engine, .id = id, .arg = lock, .arg2 = timed ? kCvTimed : kCvUntimed};
    ctx_.post(manager(id), req);
  }
  app_op op;
  op.expect_a = msg::cv_queued;
  op.id = id;
  ctx_.wait(op, [](const app_op& o) { return o.done; });
  if (answer_ == kCvRefused) {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    waiting_ = false;
    ++wait_serial_;
    throw dsm::error(name + ": wait by rank " + std::to_string(ctx_.rank) + " with dsm::mutex " +
                     std::to_string(lock) + " while other ranks wait on it with dsm::mutex " +
                     std::to_string(other_lock_) + " (one mutex per condition variable at a time)");
  }
}

// Sleeps until a notify chose this rank or the deadline passed (then cancels); false if it timed out.
bool condvar_service::await_signal(std::uint64_t id, const clock::time_point* deadline) {
  bool notified = true;
  std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
  bool sleep = false;
  std::uint64_t serial = 0;
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    sleep = !signalled_;
    if (sleep && deadline != nullptr && clock::now() >= *deadline) {
      sleep = false;
      timed_out_ = true;
    }
    sleeping_ = sleep;
    serial = wait_serial_;
  }
  if (sleep) {
    if (deadline != nullptr) arm_timer(serial, *deadline);
    sleep_until_woken(id);
    if (deadline != nullptr) disarm_timer();
  }
  bool cancel = false;
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    cancel = timed_out_ && !signalled_;
    if (cancel) {
      header req{.type = msg::cv_cancel, .to = inbox::engine, .id = id};
      ctx_.post(manager(id), req);
    }
  }
  if (cancel) {
    app_op op;
    op.expect_a = msg::cv_cancelled;
    op.id = id;
    ctx_.wait(op, [](const app_op& o) { return o.done; });
    if (answer_ == kCvTakenOff) {
      notified = false;
    } else {
      // The manager chose this rank before the cancel came: its signal is on the way. Take it.
      {
        std::lock_guard<runtime_mutex> g(ctx_.state_mu);
        sleep = !signalled_;
        sleeping_ = sleep;
      }
      if (sleep) sleep_until_woken(id);
    }
  }
  std::lock_guard<runtime_mutex> g(ctx_.state_mu);
  waiting_ = false;
  sleeping_ = false;
  signalled_ = false;
  timed_out_ = false;
  ++wait_serial_;
  return notified;
}

void condvar_service::arm_timer(std::uint64_t serial, clock::time_point deadline) {
  std::lock_guard<std::mutex> t(timer_mu_);
  if (!timer_.joinable()) timer_ = std::thread([this] { run_timer(); });
  timer_armed_ = true;
  timer_serial_ = serial;
  timer_deadline_ = deadline;
  timer_cv_.notify_one();
}

void condvar_service::disarm_timer() {
  std::lock_guard<std::mutex> t(timer_mu_);
  timer_armed_ = false;
}

void condvar_service::run_timer() {
  std::unique_lock<std::mutex> t(timer_mu_);
  while (!timer_stop_) {
    if (!timer_armed_) {
      timer_cv_.wait(t);
      continue;
    }
    if (clock::now() < timer_deadline_) {
      timer_cv_.wait_until(t, timer_deadline_);
      continue;  // look again: disarmed, armed anew, stopped, or due
    }
    const std::uint64_t serial = timer_serial_;
    timer_armed_ = false;
    t.unlock();
    {
      std::lock_guard<runtime_mutex> g(ctx_.state_mu);
      // Still asleep in the same wait, and no signal has come: wake it, timed out.
      if (waiting_ && wait_serial_ == serial && sleeping_ && !signalled_) {
        sleeping_ = false;
        timed_out_ = true;
        header wake{.type = msg::cv_wake, .to = inbox::app, .id = waiting_on_};
        ctx_.post(ctx_.rank, wake);
      }
    }
    t.lock();
  }
}

int condvar_service::notify(std::uint64_t id, bool all) {
  trace::span traced(trace::ev::cv_notify, id, manager(id));
  std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
  {
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    header req{.type = msg::cv_notify, .to = inbox::engine, .id = id, .arg = all ? kCvNotifyAll : kCvNotifyOne};
    ctx_.post(manager(id), req);
  }
  app_op op;
  op.expect_a = msg::cv_notified;
  op.id = id;
  ctx_.wait(op, [](const app_op& o) { return o.done; });
  return static_cast<int>(answer_);
}

void condvar_service::leave() {
  std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
  std::lock_guard<runtime_mutex> g(ctx_.state_mu);
  for (int r = 0; r < ctx_.ranks; ++r) {
    header bye{.type = msg::finalizing, .to = inbox::engine};
    ctx_.post(r, bye);
  }
}

void condvar_service::check_stranded() {
  if (untimed_ == 0 || leavers_ + untimed_ < ctx_.ranks) return;
  // Every rank has left or waits here without a deadline (a rank that waits has not left): nobody
  // can notify, and nobody wakes by itself.
  char who[256];
  std::size_t n = 0;
  who[0] = '\0';
  for (const auto& [id, q] : queues_) {
    for (const waiter& w : q) {
      if (w.timed) continue;
      if (n + 80 > sizeof who) break;
      const int k = std::snprintf(who + n, sizeof who - n, "%srank %d waits on dsm::condition_variable %llu",
                                  n == 0 ? "" : ", ", w.rank, static_cast<unsigned long long>(id));
      if (k > 0) n += static_cast<std::size_t>(k);
    }
  }
  fatal("every other rank has called dsm::finalize, but %s: nobody is left to notify", who);
}

void condvar_service::handle(const header& h, std::span<const std::byte> /*payload*/) {
  switch (h.type) {
    case msg::cv_wait: queue_waiter(h); break;
    case msg::cv_notify: notify_waiters(h); break;
    case msg::cv_cancel: cancel_wait(h); break;
    case msg::cv_signal:
      DSM_REQUIRE(waiting_ && waiting_on_ == h.id && !signalled_,
                  "a signal of condition variable %llu at rank %d, which does not wait on it",
                  static_cast<unsigned long long>(h.id), ctx_.rank);
      signalled_ = true;
      if (sleeping_) {
        header wake{.type = msg::cv_wake, .to = inbox::app, .id = h.id};
        ctx_.post(ctx_.rank, wake);
      }
      break;
    case msg::finalizing:
      DSM_REQUIRE(!left_[static_cast<std::size_t>(h.src)], "rank %d called finalize twice", h.src);
      left_[static_cast<std::size_t>(h.src)] = true;
      ++leavers_;
      check_stranded();
      break;
    default: fatal("condition variables: unexpected %s from rank %d", msg_name(h.type), h.src);
  }
}

// Manager: queues h.src on h.id, unless others wait on it with another lock.
void condvar_service::queue_waiter(const header& h) {
  DSM_REQUIRE(manager(h.id) == ctx_.rank, "cv_wait for condition variable %llu at rank %d, not its manager",
              static_cast<unsigned long long>(h.id), ctx_.rank);
  DSM_REQUIRE(!left_[static_cast<std::size_t>(h.src)], "cv_wait from rank %d after its finalize", h.src);
  std::deque<waiter>& q = queues_[h.id];
  header answer{.type = msg::cv_queued, .to = inbox::app, .id = h.id, .arg = kCvQueued};
  for (const waiter& w : q) {
    DSM_REQUIRE(w.rank != h.src, "condition variable %llu: rank %d waits on it twice",
                static_cast<unsigned long long>(h.id), h.src);
    if (w.lock != h.arg) answer.arg = kCvRefused, answer.arg2 = w.lock;
  }
  if (answer.arg == kCvQueued) {
    q.push_back({h.src, h.arg, h.arg2 == kCvTimed});
    if (h.arg2 != kCvTimed) ++untimed_;
  } else if (q.empty()) {
    queues_.erase(h.id);
  }
  ctx_.post(h.src, answer);
  check_stranded();
}

// Manager: signals the first waiter on h.id, or every one (kCvNotifyAll).
void condvar_service::notify_waiters(const header& h) {
  DSM_REQUIRE(manager(h.id) == ctx_.rank, "cv_notify for condition variable %llu at rank %d, not its manager",
              static_cast<unsigned long long>(h.id), ctx_.rank);
  std::uint64_t woken = 0;
  auto it = queues_.find(h.id);
  if (it != queues_.end()) {
    std::deque<waiter>& q = it->second;
    while (!q.empty() && (h.arg == kCvNotifyAll || woken == 0)) {
      header signal{.type = msg::cv_signal, .to = inbox::engine, .id = h.id};
      ctx_.post(q.front().rank, signal);
      if (!q.front().timed) --untimed_;
      q.pop_front();
      ++woken;
    }
    if (q.empty()) queues_.erase(it);
  }
  header answer{.type = msg::cv_notified, .to = inbox::app, .id = h.id, .arg = woken};
  ctx_.post(h.src, answer);
}

// Manager: takes h.src's timed wait off h.id's queue, if a notify has not chosen it yet.
void condvar_service::cancel_wait(const header& h) {
  DSM_REQUIRE(manager(h.id) == ctx_.rank, "cv_cancel for condition variable %llu at rank %d, not its manager",
              static_cast<unsigned long long>(h.id), ctx_.rank);
  header answer{.type = msg::cv_cancelled, .to = inbox::app, .id = h.id, .arg = kCvNotQueued};
  auto it = queues_.find(h.id);
  if (it != queues_.end()) {
    std::deque<waiter>& q = it->second;
    for (auto w = q.begin(); w != q.end(); ++w) {
      if (w->rank != h.src) continue;
      DSM_REQUIRE(w->timed, "rank %d cancels an untimed wait on condition variable %llu", h.src,
                  static_cast<unsigned long long>(h.id));
      q.erase(w);
      answer.arg = kCvTakenOff;
      break;
    }
    if (q.empty()) queues_.erase(it);
  }
  ctx_.post(h.src, answer);
}

void condvar_service::handle_reply(app_op& op, const header& h) {
  answer_ = h.arg;
  other_lock_ = h.arg2;
  op.done = true;
}

}  // namespace dsm::rt
