// shm_queue.cpp: see shm_queue.hpp.
#include "transport/shm_queue.hpp"

#include <cerrno>
#include <chrono>
#include <ctime>
#include <climits>
#include <cstring>
#include <new>

#include "base/futex.hpp"
#include "base/log.hpp"

namespace dsm::rt {
namespace {
constexpr std::uint32_t kMagic = 0x51534d44;  // "DSMQ"
constexpr std::size_t kHeaderBytes = 256;
// Slots are whole cache lines, so that neighbouring messages do not share one.
constexpr std::uint32_t round_slot(std::uint32_t bytes) { return (bytes + 63u) & ~63u; }
}  // namespace

std::size_t shm_queue::footprint(std::uint32_t capacity, std::uint32_t slot_bytes) {
  static_assert(sizeof(shm_queue) <= kHeaderBytes);
  return kHeaderBytes + static_cast<std::size_t>(capacity) * round_slot(slot_bytes);
}

shm_queue* shm_queue::create(void* memory, std::uint32_t capacity, std::uint32_t slot_bytes) {
  auto* q = new (memory) shm_queue();
  q->capacity_ = capacity;
  q->slot_bytes_ = round_slot(slot_bytes);
  q->tail_ = 0;
  q->head_ = 0;
  q->doorbell_ = 0;
  q->space_ = 0;
  q->consumer_asleep_ = 0;
  q->attentive_ = 0;
  q->nudged_ = 0;
  q->producers_asleep_ = 0;
  std::atomic_thread_fence(std::memory_order_release);
  q->magic_ = kMagic;
  return q;
}

shm_queue* shm_queue::attach(void* memory) {
  auto* q = static_cast<shm_queue*>(memory);
  if (q->magic_ != kMagic) fatal("shared-memory queue at %p is not initialised", memory);
  return q;
}

std::byte* shm_queue::slot(std::uint64_t index) {
  return reinterpret_cast<std::byte*>(this) + kHeaderBytes + (index % capacity_) * slot_bytes_;
}

bool shm_queue::put(std::span<const std::byte> a, std::span<const std::byte> b, bool wake, bool wait_for_space) {
  const std::uint32_t n = static_cast<std::uint32_t>(a.size() + b.size());
  DSM_REQUIRE(n <= max_message(), "message of %u bytes exceeds the queue slot (%u)", n, max_message());
  {
    boost::interprocess::scoped_lock<boost::interprocess::interprocess_mutex> lock(producers_);
    for (;;) {
      const std::uint32_t seen = space_.load();
      if (tail_.load(std::memory_order_relaxed) - head_.load() < capacity_) break;
      // Full: the consumer must look now, even if every queued message was sent with wake=false.
      ring();
      if (!wait_for_space) return false;
      producers_asleep_.fetch_add(1);
      lock.unlock();
      futex_wait(&space_, seen);
      lock.lock();
      producers_asleep_.fetch_sub(1);
    }
    const std::uint64_t t = tail_.load(std::memory_order_relaxed);
    std::byte* s = slot(t);
    std::memcpy(s, &n, sizeof n);
    if (!a.empty()) std::memcpy(s + sizeof n, a.data(), a.size());
    if (!b.empty()) std::memcpy(s + sizeof n + a.size(), b.data(), b.size());
    tail_.store(t + 1, std::memory_order_release);
  }
  // The doorbell increment orders the tail store before the attentive load (a Dekker pair with the
  // consumer's set_attentive before it looks at the tail): either the consumer sees the message
  // before it sleeps, or we see that it wants to be woken.
  doorbell_.fetch_add(1);
  if ((wake || attentive_.load() != 0) && consumer_asleep_.load() != 0) futex_wake(&doorbell_, 1);
  return true;
}

void shm_queue::ring() {
  doorbell_.fetch_add(1);
  if (consumer_asleep_.load() != 0) futex_wake(&doorbell_, 1);
}

void shm_queue::nudge() {
  nudged_.store(1);
  ring();
}

bool shm_queue::wait_nonempty(std::int64_t timeout_ns) {
  const auto deadline = std::chrono::steady_clock::now() + std::chrono::nanoseconds(timeout_ns);
  for (;;) {
    const std::uint32_t seen = doorbell_.load();
    if (tail_.load(std::memory_order_acquire) != head_.load(std::memory_order_relaxed)) return true;
    if (nudged_.exchange(0) != 0) return false;
    timespec left{};
    if (timeout_ns >= 0) {
      const auto ns = std::chrono::duration_cast<std::chrono::nanoseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (ns <= 0) return false;
      left.tv_sec = static_cast<time_t>(ns / 1000000000);
      left.tv_nsec = static_cast<long>(ns % 1000000000);
    }
    consumer_asleep_.store(1);
    if (tail_.load(std::memory_order_acquire) == head_.load(std::memory_order_relaxed))
      futex_wait(&doorbell_, seen, timeout_ns >= 0 ? &left : nullptr);
    consumer_asleep_.store(0);
  }
}

void shm_queue::release_head(std::uint64_t h) {
  head_.store(h + 1, std::memory_order_release);
  space_.fetch_add(1);
  if (producers_asleep_.load() != 0) futex_wake(&space_, INT_MAX);
}

}  // namespace dsm::rt
