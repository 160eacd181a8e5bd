// producer_consumer: a bounded queue in shared memory between ranks, with two global condition
// variables on one global lock, as a threads program would use std::condition_variable. Rank 0
// puts the numbers 1..items into a ring of 16 slots; every other rank takes numbers out and adds
// them up. A producer that finds the ring full sleeps on `not_full`, a consumer that finds it empty
// sleeps on `not_empty`; each wakes the other side with notify_one. When the producer is done it
// says so and wakes every consumer with notify_all. The consumers' sums must add up to exactly
// 1 + 2 + ... + items, and every number must have been taken once. Waiting ranks sleep: they never
// poll the queue. The queue is bound to its lock, so the program runs under every model.
// Run it with `mpirun -np 4 ./producer_consumer [items]` (2 ranks or more).
#include <dsm/dsm.hpp>

#include <cstdio>
#include <cstdlib>
#include <mutex>

namespace {

constexpr long kSlots = 16;

struct queue {
  long head;   // the next slot to take from
  long tail;   // the next slot to put into
  long count;  // numbers in the ring
  long done;   // 1 once the producer has put its last number
  long taken;  // numbers taken by all consumers
  long sum;    // their sum
  long slots[kSlots];
};

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const long items = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 2000;
  const int n = dsm::ranks();
  if (n < 2) {
    std::printf("producer_consumer: needs a producer and a consumer rank (mpirun -np 2 or more): FAIL\n");
    return 1;
  }

  queue* q = dsm::alloc<queue>(1);         // collective, zero-filled
  dsm::mutex lock{1};                      // guards the queue
  dsm::condition_variable not_full{1};     // the producer waits here for a free slot
  dsm::condition_variable not_empty{2};    // consumers wait here for a number (or the end)
  lock.bind(q, sizeof *q);                 // collective: the queue travels with lock 1 (entry consistency)

  long my_taken = 0;
  if (dsm::rank() == 0) {
    for (long i = 1; i <= items; ++i) {
      std::unique_lock<dsm::mutex> guard(lock);
      not_full.wait(guard, [&] { return q->count < kSlots; });  // sleeps while the ring is full
      q->slots[q->tail] = i;
      q->tail = (q->tail + 1) % kSlots;
      ++q->count;
      not_empty.notify_one();  // one consumer may go on
    }
    std::lock_guard<dsm::mutex> guard(lock);
    q->done = 1;
    not_empty.notify_all();  // every consumer that sleeps on an empty ring wakes and sees the end
  } else {
    long sum = 0;
    for (;;) {
      std::unique_lock<dsm::mutex> guard(lock);
      not_empty.wait(guard, [&] { return q->count > 0 || q->done == 1; });
      if (q->count == 0) break;  // empty and done
      sum += q->slots[q->head];
      q->head = (q->head + 1) % kSlots;
      --q->count;
      ++my_taken;
      guard.unlock();
      not_full.notify_one();  // notifying after unlocking is as good: nothing is lost
    }
    std::lock_guard<dsm::mutex> guard(lock);
    q->taken += my_taken;
    q->sum += sum;
  }

  dsm::barrier();  // every consumer has added its share
  long taken = 0, sum = 0;
  {
    std::lock_guard<dsm::mutex> guard(lock);  // bound data is read under its lock
    taken = q->taken;
    sum = q->sum;
  }
  const long expected = items * (items + 1) / 2;
  const bool ok = taken == items && sum == expected;
  if (dsm::rank() == 0)
    std::printf("producer_consumer: 1 producer, %d consumers, %ld numbers through %ld slots, sum %ld, expected %ld: "
                "%s\n",
                n - 1, taken, kSlots, sum, expected, ok ? "OK" : "FAIL");

  dsm::barrier();
  dsm::free(q);
  return ok ? 0 : 1;
}
