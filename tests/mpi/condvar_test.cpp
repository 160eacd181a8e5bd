// condvar_test.cpp: dsm::condition_variable does what std::condition_variable does, across ranks.
// A bounded queue in shared memory with producers and consumers on different ranks (every item
// consumed exactly once, in each producer's order); notify_all as a start gun that wakes every
// waiter, each exactly once; waits with a predicate taking turns in rank order; several condition
// variables on one mutex, where a notify wakes only the waiters of its own; notify_one waking the
// longest waiter; notifies with nobody waiting waking no later wait; timed waits (timing out,
// woken before the deadline, timeouts racing with notifies); the C functions; and misuse
// (wait without the mutex, with another mutex than the waiters') throwing dsm::error. Shared data is
// bound to its mutex and read under it, so every check holds under every model. Nothing sleeps to
// synchronise: a rank that must know another is waiting learns it from a counter that the waiter
// bumps in the same critical section in which it begins to wait.
#include <gtest/gtest.h>
#include <mpi.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include "dsm/dsm.h"
#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

// ---- A bounded queue: producers are the even ranks, consumers the odd ones.

constexpr long kItems = 4000;
constexpr long kCapacity = 8;

struct ring {
  long head;      // next slot to take
  long tail;      // next slot to fill
  long count;     // items in the ring
  long taken;     // items consumed so far
  long slots[kCapacity];
};

TEST_F(collective, bounded_queue_delivers_every_item_exactly_once_in_order) {
  const int me = dsm::rank(), n = dsm::ranks();
  const int producers = (n + 1) / 2, consumers = n / 2;
  const long per_producer = kItems / producers;
  const long total = per_producer * producers;
  ring* q = dsm::alloc<ring>(1);
  dsm::mutex m{10};
  dsm::condition_variable not_full{10}, not_empty{11};  // two condition variables on one mutex
  m.bind(q, sizeof *q);

  std::vector<int> seen(static_cast<std::size_t>(total), 0);
  bool in_order = true;
  if (me % 2 == 0) {
    // Producer number me / 2 makes items me / 2 * per_producer + 0, 1, 2, ...; it notifies while
    // holding the mutex.
    const long first = me / 2 * per_producer;
    for (long i = 0; i < per_producer; ++i) {
      std::unique_lock lock(m);
      not_full.wait(lock, [&] { return q->count < kCapacity; });
      q->slots[q->tail] = first + i;
      q->tail = (q->tail + 1) % kCapacity;
      ++q->count;
      not_empty.notify_one();
    }
  } else {
    // A consumer notifies after releasing the mutex; whoever takes the last item wakes the other
    // consumers so that they stop.
    std::vector<long> last(static_cast<std::size_t>(producers), -1);
    for (;;) {
      std::unique_lock lock(m);
      not_empty.wait(lock, [&] { return q->count > 0 || q->taken == total; });
      if (q->count == 0) break;
      const long item = q->slots[q->head];
      q->head = (q->head + 1) % kCapacity;
      --q->count;
      const bool all_taken = ++q->taken == total;
      lock.unlock();
      not_full.notify_one();
      if (all_taken) not_empty.notify_all();
      if (item < 0 || item >= total) {
        in_order = false;
        continue;
      }
      ++seen[static_cast<std::size_t>(item)];
      const std::size_t p = static_cast<std::size_t>(item / per_producer);
      in_order = in_order && item > last[p];  // one producer's items leave the queue in its order
      last[p] = item;
    }
  }
  std::vector<int> everywhere(seen.size(), 0);
  MPI_Allreduce(seen.data(), everywhere.data(), static_cast<int>(seen.size()), MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  long missing = 0, repeated = 0;
  for (int c : everywhere) {
    missing += c == 0;
    repeated += c > 1;
  }
  DSM_EXPECT_ALL(missing == 0 && repeated == 0)
      << missing << " of " << total << " items never consumed, " << repeated << " consumed more than once ("
      << producers << " producers, " << consumers << " consumers)";
  DSM_EXPECT_ALL(in_order) << "a consumer saw one producer's items out of order (or an item out of range)";
  dsm::barrier();
  long taken = 0, count = 0;
  {
    std::lock_guard g(m);
    taken = q->taken;
    count = q->count;
  }
  DSM_EXPECT_ALL(taken == total && count == 0) << "taken=" << taken << " count=" << count;
  dsm::barrier();
  dsm::free(q);
}

// ---- notify_all as a start gun, several rounds.

struct gun {
  long ready;  // waiters that have begun to wait this round
  long round;  // the last round fired
};

TEST_F(collective, notify_all_wakes_every_waiter_exactly_once) {
  constexpr long kRounds = 25;
  gun* g = dsm::alloc<gun>(1);
  dsm::mutex m{30};
  dsm::condition_variable everyone_ready{30}, fire{31};
  m.bind(g, sizeof *g);
  long extra_wakeups = 0;
  for (long round = 1; round <= kRounds; ++round) {
    std::unique_lock lock(m);
    if (dsm::rank() == 0) {
      // Every waiter bumped `ready` in the critical section in which it began to wait, so all are
      // waiting on `fire` now.
      everyone_ready.wait(lock, [&] { return g->ready == dsm::ranks() - 1; });
      g->ready = 0;
      g->round = round;
      fire.notify_all();
    } else {
      ++g->ready;
      everyone_ready.notify_one();
      long waits = 0;
      while (g->round < round) {
        fire.wait(lock);
        ++waits;
      }
      extra_wakeups += waits - 1;  // exactly one wake-up: the shot
    }
  }
  DSM_EXPECT_ALL(extra_wakeups == 0) << extra_wakeups << " wake-ups beyond one per round on rank " << dsm::rank();
  dsm::barrier();
  dsm::free(g);
}

// ---- wait with a predicate: ranks take turns in rank order, every rank waking all the others.

struct turns {
  long turn;
  long log[400];
};

TEST_F(collective, wait_with_a_predicate_takes_turns_in_order) {
  const long total = 50L * dsm::ranks();
  turns* t = dsm::alloc<turns>(1);
  dsm::mutex m{20};
  dsm::condition_variable changed{20};
  m.bind(t, sizeof *t);
  for (long i = dsm::rank(); i < total; i += dsm::ranks()) {
    std::unique_lock lock(m);
    changed.wait(lock, [&] { return t->turn == i; });
    t->log[i] = dsm::rank();
    ++t->turn;
    changed.notify_all();
  }
  dsm::barrier();
  long turn = 0, wrong = 0;
  {
    std::lock_guard g(m);
    turn = t->turn;
    for (long i = 0; i < total; ++i) wrong += t->log[i] != i % dsm::ranks();
  }
  DSM_EXPECT_ALL(turn == total && wrong == 0) << "turn=" << turn << " of " << total << ", " << wrong
                                              << " turns taken out of order";
  dsm::barrier();
  dsm::free(t);
}

// ---- Several condition variables on one mutex: a notify wakes only its own waiters.

struct gates {
  long ready;    // waiters that have begun to wait
  long passed;   // waiters that have gone through their gate
  long open[3];
};

TEST_F(collective, condition_variables_on_one_mutex_wake_only_their_own_waiters) {
  gates* g = dsm::alloc<gates>(1);
  dsm::mutex m{50};
  dsm::condition_variable progress{53};
  m.bind(g, sizeof *g);
  long waits = 1;
  {
    std::unique_lock lock(m);
    if (dsm::rank() == 0) {
      progress.wait(lock, [&] { return g->ready == dsm::ranks() - 1; });
      // The last gate first; after each, rank 0 waits (releasing the mutex) until that gate's
      // waiters have gone through, so a notify that woke the waiters of a closed gate would show
      // as a second wait on their rank.
      long through = 0;
      for (int k = 2; k >= 0; --k) {
        for (int r = 1; r < dsm::ranks(); ++r) through += r % 3 == k;
        g->open[k] = 1;
        dsm::condition_variable(50 + static_cast<std::uint64_t>(k)).notify_all();
        progress.wait(lock, [&] { return g->passed == through; });
      }
    } else {
      const int k = dsm::rank() % 3;
      dsm::condition_variable gate{50 + static_cast<std::uint64_t>(k)};
      ++g->ready;
      progress.notify_one();
      waits = 0;
      while (g->open[k] == 0) {
        gate.wait(lock);
        ++waits;
      }
      ++g->passed;
      progress.notify_one();
    }
  }
  DSM_EXPECT_ALL(waits == 1) << "rank " << dsm::rank() << " returned from wait " << waits << " times";
  dsm::barrier();
  dsm::free(g);
}

// ---- notify_one wakes the longest waiter.

struct line {
  long queued;   // ranks that have begun to wait, in rank order
  long served;   // entries in `order`
  long order[64];
};

TEST_F(collective, notify_one_wakes_the_longest_waiter_first) {
  line* l = dsm::alloc<line>(1);
  dsm::mutex m{60};
  dsm::condition_variable my_turn{60}, in_line{61}, done{62};
  m.bind(l, sizeof *l);
  const long waiters = dsm::ranks() - 1;
  std::unique_lock lock(m);
  if (dsm::rank() == 0) {
    in_line.wait(lock, [&] { return l->queued == waiters; });
    for (long i = 1; i <= waiters; ++i) {
      my_turn.notify_one();
      done.wait(lock, [&] { return l->served == i; });
    }
  } else {
    // Rank r joins the line after rank r - 1 has.
    in_line.wait(lock, [&] { return l->queued == dsm::rank() - 1; });
    ++l->queued;
    in_line.notify_all();
    my_turn.wait(lock);
    l->order[l->served++] = dsm::rank();
    done.notify_one();
  }
  lock.unlock();
  dsm::barrier();
  long wrong = 0, served = 0;
  {
    std::lock_guard g(m);
    served = l->served;
    for (long i = 0; i < served; ++i) wrong += l->order[i] != i + 1;
  }
  DSM_EXPECT_ALL(served == waiters && wrong == 0) << served << " served, " << wrong << " out of line order";
  dsm::barrier();
  dsm::free(l);
}

// ---- Notifies with nobody waiting do nothing, and wake no wait that begins after them.

struct mailbox {
  long waiting;
  long value;
};

TEST_F(collective, notify_with_nobody_waiting_wakes_no_later_wait) {
  mailbox* b = dsm::alloc<mailbox>(1);
  dsm::mutex m{40};
  dsm::condition_variable letter{40}, ready{41};
  m.bind(b, sizeof *b);
  for (int i = 0; i < 20; ++i) {
    letter.notify_one();
    letter.notify_all();
  }
  dsm::barrier();
  long value = 7;
  if (dsm::rank() == 1) {
    std::unique_lock lock(m);
    b->waiting = 1;
    ready.notify_one();
    letter.wait(lock);  // no predicate: the first return must come from rank 0's notify
    value = b->value;
  } else if (dsm::rank() == 0) {
    std::unique_lock lock(m);
    ready.wait(lock, [&] { return b->waiting == 1; });
    b->value = 7;
    letter.notify_one();
  }
  DSM_EXPECT_ALL(value == 7) << "rank 1's wait returned and read " << value
                                           << ": woken by a notify made before it began to wait";
  dsm::barrier();
  dsm::free(b);
}

// ---- Timed waits.

// Nobody notifies: every rank's wait_for times out, after at least its duration; the waits left
// nothing queued behind them, so the condition variable then works as before (a stale entry would
// be reported as a rank waiting twice, or a signal for a rank that does not wait).
TEST_F(collective, wait_for_times_out_when_nobody_notifies) {
  long* flag = dsm::alloc<long>(1);
  dsm::mutex m{90};
  dsm::condition_variable cv{90}, ready{91};
  m.bind(flag, sizeof *flag);
  using std::chrono::milliseconds;
  long timeouts = 0, early = 0;
  for (int i = 0; i < 3; ++i) {
    std::unique_lock lock(m);
    const auto start = std::chrono::steady_clock::now();
    timeouts += cv.wait_for(lock, milliseconds(30)) == std::cv_status::timeout;
    early += std::chrono::steady_clock::now() - start < milliseconds(30);
    const bool held = lock.owns_lock();
    early += !held;  // the mutex is held again on return
  }
  {
    std::unique_lock lock(m);
    const auto deadline = std::chrono::system_clock::now() + milliseconds(20);
    timeouts += !cv.wait_until(lock, deadline, [&] { return *flag == 1; });  // false: the predicate's value
  }
  DSM_EXPECT_ALL(timeouts == 4 && early == 0) << timeouts << " of 4 waits timed out, " << early
                                              << " returned before their deadline or without the mutex";
  dsm::barrier();
  // The same condition variable, untimed: rank 1 waits until rank 0 raises the flag.
  long seen = 1;
  if (dsm::rank() == 1) {
    std::unique_lock lock(m);
    *flag = 2;  // "waiting"
    ready.notify_one();
    cv.wait(lock, [&] { return *flag == 1; });
    seen = *flag;
  } else if (dsm::rank() == 0) {
    std::unique_lock lock(m);
    ready.wait(lock, [&] { return *flag == 2; });
    *flag = 1;
    cv.notify_one();
  }
  DSM_EXPECT_ALL(seen == 1) << "rank 1 read " << seen;
  dsm::barrier();
  dsm::free(flag);
}

// A notify before the deadline wakes a timed wait: rank 1 waits with a deadline far away and rank 0
// notifies once it knows rank 1 waits; the wait returns true long before the deadline.
TEST_F(collective, wait_for_returns_on_a_notify_before_the_deadline) {
  long* flag = dsm::alloc<long>(1);
  dsm::mutex m{92};
  dsm::condition_variable cv{92}, ready{93};
  m.bind(flag, sizeof *flag);
  bool woken = true;
  if (dsm::rank() == 1) {
    std::unique_lock lock(m);
    *flag = 2;
    ready.notify_one();
    woken = cv.wait_for(lock, std::chrono::seconds(60), [&] { return *flag == 1; });
  } else if (dsm::rank() == 0) {
    std::unique_lock lock(m);
    ready.wait(lock, [&] { return *flag == 2; });
    *flag = 1;
    cv.notify_all();
  }
  DSM_EXPECT_ALL(woken) << "rank 1's wait_for reported a timeout";
  dsm::barrier();
  dsm::free(flag);
}

// Timeouts racing with notifies: consumers wait with a 1 ms deadline, loop until every item is
// counted; the producer (rank 0) adds items one at a time and notifies one waiter each time. A
// cancel that crosses a signal must neither lose the wake-up nor leave an entry behind; every item
// must be counted exactly once.
TEST_F(collective, timeouts_racing_with_notifies_lose_nothing) {
  constexpr long kCount = 400;
  long* c = dsm::alloc<long>(2);  // [0]: items made, [1]: items counted
  dsm::mutex m{94};
  dsm::condition_variable more{94};
  m.bind(c, 2 * sizeof *c);
  long counted_here = 0;
  if (dsm::rank() == 0) {
    for (long i = 0; i < kCount; ++i) {
      {
        std::lock_guard g(m);
        ++c[0];
      }
      more.notify_one();
    }
    more.notify_all();
  } else {
    std::unique_lock lock(m);
    while (c[1] < kCount) {
      more.wait_for(lock, std::chrono::milliseconds(1), [&] { return c[1] < c[0] || c[1] == kCount; });
      if (c[1] < c[0]) {
        ++c[1];
        ++counted_here;
      }
    }
  }
  const std::uint64_t counted = dsm_test::sum_over_ranks(static_cast<std::uint64_t>(counted_here));
  DSM_EXPECT_ALL(counted == static_cast<std::uint64_t>(kCount)) << counted << " items counted of " << kCount;
  dsm::barrier();
  dsm::free(c);
}

// ---- The C functions: ranks 0 and 1 hand a token back and forth.

TEST_F(collective, c_functions_hand_a_token_back_and_forth) {
  constexpr long kPasses = 100;
  long* turn = static_cast<long*>(dsm_alloc(sizeof(long)));
  dsm_bind(70, turn, sizeof *turn);
  const int me = dsm_rank();
  if (me < 2) {
    for (long i = me; i < kPasses; i += 2) {
      dsm_lock_acquire(70);
      while (*turn != i) dsm_cond_wait(70, 70);
      ++*turn;
      dsm_cond_signal(70);
      dsm_lock_release(70);
    }
  }
  dsm_barrier();
  dsm_lock_acquire(70);
  const long seen = *turn;
  dsm_cond_broadcast(70);  // nobody waits: nothing happens
  dsm_lock_release(70);
  DSM_EXPECT_ALL(seen == kPasses) << "turn=" << seen;
  dsm_barrier();
  dsm_free(turn);
}

// ---- Misuse a rank can see on its own throws dsm::error, and the condition variable still works.

TEST_F(collective, wait_without_the_mutex_throws) {
  const std::string me = std::to_string(dsm::rank());
  dsm::mutex m{80};
  dsm::condition_variable cv{80};
  std::unique_lock unlocked(m, std::defer_lock);
  const std::string no_lock = dsm_test::error_of([&] { cv.wait(unlocked); });
  DSM_EXPECT_ALL(no_lock == "dsm::condition_variable 80: wait by rank " + me +
                                " with a std::unique_lock that holds no dsm::mutex")
      << no_lock;
  std::unique_lock adopted(m, std::adopt_lock);  // claims a lock this rank does not hold
  const std::string not_held = dsm_test::error_of([&] { cv.wait(adopted); });
  adopted.release();
  DSM_EXPECT_ALL(not_held == "dsm::condition_variable 80: wait by rank " + me + ", which does not hold dsm::mutex 80")
      << not_held;
}

TEST_F(collective, waiting_with_another_mutex_than_the_waiters_throws) {
  long* flags = dsm::alloc<long>(2);  // [0]: rank 0 waits, [1]: rank 1 is done
  dsm::mutex m{81}, other{83};
  dsm::condition_variable cv{81}, waiting{82};
  m.bind(flags, 2 * sizeof *flags);
  std::string refused = "skipped";
  if (dsm::rank() == 0) {
    std::unique_lock lock(m);
    flags[0] = 1;
    waiting.notify_one();
    cv.wait(lock, [&] { return flags[1] == 1; });
  } else if (dsm::rank() == 1) {
    {
      std::unique_lock lock(m);
      waiting.wait(lock, [&] { return flags[0] == 1; });
    }
    {
      std::unique_lock wrong(other);
      refused = dsm_test::error_of([&] { cv.wait(wrong); });
    }
    std::lock_guard g(m);
    flags[1] = 1;
    cv.notify_one();
  }
  DSM_EXPECT_ALL(dsm::rank() != 1 ||
                 refused == "dsm::condition_variable 81: wait by rank 1 with dsm::mutex 83 while other ranks wait on "
                            "it with dsm::mutex 81 (one mutex per condition variable at a time)")
      << refused;
  dsm::barrier();
  dsm::free(flags);
}

}  // namespace
