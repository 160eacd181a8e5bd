// chaos.hpp: injected faults for tests (DSM_CHAOS=<seed>): delayed and reordered message delivery,
// and delayed sends from the application thread.
//
// chaos_inbox sits between an inbox and the thread that serves it. Each message that arrives is
// either delivered at once or, with probability 1/4, copied and held back for a random 20 us - 2 ms
// while later messages are delivered first. By default messages from one sender keep their order
// (as MPI guarantees on one tag): once a message from rank r is held, every later message from r is
// held behind it and delivered right after it, so only the order between senders is scrambled. With
// `pairs` (DSM_CHAOS=<seed>:pairs) later messages of the same sender may overtake too, except where
// the runtime relies on per-pair order (docs/reliability.md): the fragments of bulk messages stay in
// sequence, a barrier arrival stays behind its barrier data, and a goodbye stays behind everything.
// chaos_sender makes a sending thread sleep 20-500 us before one send in eight.
//
// The decisions come from a generator seeded with (seed, rank, inbox), so one seed gives each rank
// the same sequence of choices; the interleaving the choices meet still depends on timing. Nothing
// spins: the consumer sleeps on its inbox until a new message or the next held one is due.
// Not thread safe: one chaos_inbox per inbox, used by its one consumer thread; one chaos_sender per
// transport, guarded by its own mutex.
#ifndef DSM_RUNTIME_TRANSPORT_CHAOS_HPP_
#define DSM_RUNTIME_TRANSPORT_CHAOS_HPP_

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <mutex>
#include <random>
#include <span>
#include <vector>

#include "transport/message.hpp"

namespace dsm::rt {

class chaos_inbox {
 public:
  using clock = std::chrono::steady_clock;
  chaos_inbox(std::uint64_t seed, int rank, int box, bool pairs = false);

  // A message of type `type` from `src` has arrived. True: deliver it now. False: it has been copied
  // and is held.
  bool admit(int src, msg type, std::span<const std::byte> bytes, clock::time_point now);
  // True if a message `later` from one sender must not overtake an earlier one `earlier`.
  bool must_follow(msg earlier, msg later) const;
  // Moves the next held message whose time has come into `out` (true), or returns false.
  bool take_due(clock::time_point now, std::vector<std::byte>& out);
  // Nanoseconds until the earliest held message is due (0 if one is due now), or -1 if none is held.
  std::int64_t wait_ns(clock::time_point now) const;
  std::size_t held() const { return held_.size(); }
  std::uint64_t held_total() const { return held_total_; }

 private:
  struct held_message {
    int src;
    msg type;
    clock::time_point due;
    std::vector<std::byte> bytes;
  };
  std::mt19937_64 rng_;
  bool pairs_;
  // In arrival order. A message that must follow an earlier held one is due no earlier than it.
  std::deque<held_message> held_;
  std::uint64_t held_total_ = 0;
};

class chaos_sender {
 public:
  chaos_sender(std::uint64_t seed, int rank);
  // Sleeps (sometimes) before a send.
  void maybe_delay();

 private:
  std::mutex mu_;
  std::mt19937_64 rng_;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TRANSPORT_CHAOS_HPP_
