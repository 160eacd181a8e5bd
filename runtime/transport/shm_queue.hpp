// shm_queue.hpp: a bounded many-producer / one-consumer message queue that lives in shared memory,
// with a futex doorbell, so that ranks of one node pass messages without MPI and wait in the kernel.
//
// The queue is a ring of fixed-size slots placed in a Boost.Interprocess segment. Producers (any
// thread of any rank on the node) serialise on a process-shared interprocess_mutex, copy their
// message into the tail slot and ring the doorbell: a 32-bit sequence word the consumer sleeps on
// with FUTEX_WAIT. The one consumer reads the head slot in place and frees it. A producer that finds
// the ring full sleeps on a second futex word until the consumer frees a slot. Nothing spins.
#ifndef DSM_RUNTIME_TRANSPORT_SHM_QUEUE_HPP_
#define DSM_RUNTIME_TRANSPORT_SHM_QUEUE_HPP_

#include <atomic>
#include <boost/interprocess/sync/interprocess_mutex.hpp>
#include <boost/interprocess/sync/scoped_lock.hpp>
#include <cstddef>
#include <cstdint>
#include <span>

namespace dsm::rt {

class shm_queue {
 public:
  // Bytes of shared memory a queue of `capacity` slots of `slot_bytes` needs.
  static std::size_t footprint(std::uint32_t capacity, std::uint32_t slot_bytes);
  // Constructs a queue in `memory` (footprint() bytes, suitably aligned); once, by its owner.
  static shm_queue* create(void* memory, std::uint32_t capacity, std::uint32_t slot_bytes);
  // A queue another process created in memory mapped here.
  static shm_queue* attach(void* memory);

  // Copies the concatenation of the parts into one slot; sleeps while the ring is full. With
  // wake=false the doorbell is not rung: the message waits for the next one that is (for messages
  // nobody waits for, such as a confirmation; it saves the sender a system call).
  void push(std::span<const std::byte> a, std::span<const std::byte> b = {}, bool wake = true) {
    put(a, b, wake, true);
  }
  // As push, but returns false at once, leaving the ring as it was, if the ring is full.
  bool try_push(std::span<const std::byte> a, std::span<const std::byte> b = {}, bool wake = true) {
    return put(a, b, wake, false);
  }
  // Rings the doorbell without a message: the consumer looks at what is queued.
  void ring();
  // Rings the doorbell and makes the consumer's current or next pop_within return false at once,
  // message or not (it has other work: messages of its own to send on).
  void nudge();
  // Consumer: while attentive, every push rings the doorbell, wake=false or not (the consumer
  // has work that such a message may unblock).
  void set_attentive(bool on) { attentive_.store(on ? 1 : 0); }
  // Sleeps until a message is there, then calls fn(bytes) on it in place and frees the slot.
  template <class Fn>
  void pop(Fn&& fn) {
    while (!wait_nonempty(-1)) {
    }
    take(fn);
  }
  // As pop, but sleeps at most timeout_ns (no limit if negative); false if no message arrived in
  // that time, or if nudged.
  template <class Fn>
  bool pop_within(std::int64_t timeout_ns, Fn&& fn) {
    if (!wait_nonempty(timeout_ns)) return false;
    take(fn);
    return true;
  }
  std::uint32_t slot_bytes() const { return slot_bytes_; }
  std::uint32_t max_message() const { return slot_bytes_ - 8; }

 private:
  template <class Fn>
  void take(Fn& fn) {
    const std::uint64_t h = head_.load(std::memory_order_relaxed);
    std::byte* s = slot(h);
    std::uint32_t n;
    __builtin_memcpy(&n, s, sizeof n);
    fn(std::span<const std::byte>(s + sizeof n, n));
    release_head(h);
  }
  shm_queue() = default;
  bool put(std::span<const std::byte> a, std::span<const std::byte> b, bool wake, bool wait_for_space);
  std::byte* slot(std::uint64_t index);
  // Sleeps until a message is queued (true) or, if timeout_ns >= 0, that much time has passed, or
  // until nudged (false).
  bool wait_nonempty(std::int64_t timeout_ns);
  void release_head(std::uint64_t h);

  std::uint32_t magic_;
  std::uint32_t capacity_;
  std::uint32_t slot_bytes_;
  boost::interprocess::interprocess_mutex producers_;
  alignas(64) std::atomic<std::uint64_t> tail_;
  std::atomic<std::uint32_t> doorbell_;        // bumped by every push
  std::atomic<std::uint32_t> consumer_asleep_;
  std::atomic<std::uint32_t> attentive_;
  std::atomic<std::uint32_t> nudged_;
  alignas(64) std::atomic<std::uint64_t> head_;
  std::atomic<std::uint32_t> space_;           // bumped by every pop
  std::atomic<std::uint32_t> producers_asleep_;
};

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TRANSPORT_SHM_QUEUE_HPP_
