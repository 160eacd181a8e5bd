// condvars.hpp: global condition variables named by an integer (dsm::condition_variable), used with
// a dsm::mutex as std::condition_variable is with std::mutex.
//
// The manager of condition variable `id` is rank id % ranks; it keeps the ranks waiting on it in a
// FIFO queue. wait(id, lock), called holding `lock`: the waiter sends cv_wait to the manager and
// waits for cv_queued BEFORE it releases the lock, so that a notify made by a rank that takes the
// lock after it finds it in the queue; then it releases the lock, sleeps on its inbox until woken,
// and takes the lock again. notify(id, all): cv_notify to the manager, which sends cv_signal to the
// first waiter (or to every waiter) and answers cv_notified; notify returns after that answer, so
// a wait this rank starts afterwards is never woken by it, whatever order messages take. A notify
// with nobody waiting does nothing. The signal goes to the waiter's engine, which wakes the
// application thread (cv_wake to its own inbox) only once it sleeps: the application inbox carries
// only replies to the operation the application thread waits for (engine/context.hpp), and the
// signal may arrive while the waiter is still releasing the lock. No spurious wake-ups: each wait
// is woken by exactly one signal. Nothing polls.
//
// Timed waits (wait_until): the application thread sleeps as in wait, and a timer thread of this
// rank (started at the first timed wait, asleep on a std::condition_variable until the deadline)
// wakes it with cv_wake if no signal has come. It then asks the manager to take it off the queue
// (cv_cancel, cv_cancelled): taken off, the wait timed out; not found, the manager had already
// chosen it, so it takes the signal on its way and counts as notified (a notify is never lost to a
// timeout).
//
// Bounds: a rank waits on one condition variable at a time (its application thread sleeps in
// wait), so a manager's queues hold at most `ranks` entries in all, and a rank's requests (cv_wait,
// cv_notify) each wait for their answer: at most one is in flight per rank.
//
// Finalize: every rank tells every engine that it has called finalize (`finalizing`), and makes no
// notify after that. A manager whose waiters, with the ranks that have called finalize, make up
// the whole job ends it with a fatal error naming them: nobody is left to wake them. Timed waiters
// are not counted (they wake by themselves). Waiters spread over several managers are not detected
// (each manager sees only its own); then the job hangs as any program whose ranks all wait does.
//
// wait, notify and leave run on the application thread (they take op_mu for their own messages;
// wait releases and takes the dsm::mutex as its public calls do); handle() on the engine with
// state_mu held; handle_reply() on the application thread; the timer thread takes state_mu to
// wake the application thread.
#ifndef DSM_RUNTIME_SYNC_CONDVARS_HPP_
#define DSM_RUNTIME_SYNC_CONDVARS_HPP_

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <span>
#include <thread>
#include <unordered_map>
#include <vector>

#include "coherence/protocol.hpp"
#include "engine/context.hpp"
#include "sync/locks.hpp"

namespace dsm::rt {

class condvar_service {
 public:
  using clock = std::chrono::steady_clock;
  condvar_service(context& ctx, protocol& proto, lock_service& locks);
  ~condvar_service();
  condvar_service(const condvar_service&) = delete;
  condvar_service& operator=(const condvar_service&) = delete;
  // Waits on condition variable id, holding dsm::mutex `lock` exclusively on entry and on return,
  // until a notify wakes it or, with a deadline, until the deadline passes. True if a notify woke
  // it. Throws dsm::error, before any message, if this rank does not hold the lock; and if other
  // ranks wait on id with another mutex (std calls that undefined; here it is refused).
  bool wait(std::uint64_t id, std::uint64_t lock, const clock::time_point* deadline = nullptr);
  // Wakes the first waiter on id (all = false) or every waiter; returns how many it woke.
  int notify(std::uint64_t id, bool all);
  // dsm::finalize, before its barrier: tells every rank that this one makes no more notifies.
  void leave();
  void handle(const header& h, std::span<const std::byte> payload);
  void handle_reply(app_op& op, const header& h);

 private:
  struct waiter {
    int rank;
    std::uint64_t lock;
    bool timed;
  };
  int manager(std::uint64_t id) const { return static_cast<int>(id % static_cast<std::uint64_t>(ctx_.ranks)); }
  // True if this rank holds dsm::mutex `lock` exclusively.
  bool holds(std::uint64_t lock);
  // Application thread: asks id's manager to queue this rank, waiting with `lock` (takes op_mu).
  void enqueue(std::uint64_t id, std::uint64_t lock, bool timed, const std::string& name);
  // Manager, state_mu held: a cv_wait, a cv_notify or cv_signal, a cv_cancel.
  void queue_waiter(const header& h);
  void notify_waiters(const header& h);
  void cancel_wait(const header& h);
  // Application thread: waits for the signal or the deadline; true if signalled.
  bool await_signal(std::uint64_t id, const clock::time_point* deadline);
  // Application thread, op_mu held: sleeps until cv_wake.
  void sleep_until_woken(std::uint64_t id);
  // The timer thread's loop, and the application thread's calls to set and clear its deadline.
  void run_timer();
  void arm_timer(std::uint64_t serial, clock::time_point deadline);
  void disarm_timer();
  // Manager: ends the job if its waiters and the ranks that left are the whole job. state_mu held.
  void check_stranded();

  context& ctx_;
  protocol& proto_;
  lock_service& locks_;
  // This rank as a waiter (state_mu): the condition variable it waits on, whether its application
  // thread sleeps for the wake-up, whether the signal has come.
  bool waiting_ = false;
  std::uint64_t waiting_on_ = 0;
  bool sleeping_ = false;
  bool signalled_ = false;
  bool timed_out_ = false;         // the timer woke the application thread
  std::uint64_t wait_serial_ = 0;  // the number of this rank's current wait
  // The last answer to this rank's wait or notify (application thread).
  std::uint64_t answer_ = 0;
  std::uint64_t other_lock_ = 0;
  // Manager (state_mu): the waiters of each condition variable managed here that has any, in
  // arrival order; at most `ranks` entries in all (see the file comment).
  std::unordered_map<std::uint64_t, std::deque<waiter>> queues_;
  int untimed_ = 0;         // queued waiters without a deadline
  std::vector<bool> left_;  // by rank: has called finalize
  int leavers_ = 0;
  // The timer of timed waits (timer_mu_; never held together with state_mu by the timer thread).
  std::thread timer_;
  std::mutex timer_mu_;
  std::condition_variable timer_cv_;
  bool timer_stop_ = false;
  bool timer_armed_ = false;
  std::uint64_t timer_serial_ = 0;  // the wait the deadline belongs to
  clock::time_point timer_deadline_;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_SYNC_CONDVARS_HPP_
