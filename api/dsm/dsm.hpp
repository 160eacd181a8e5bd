// dsm.hpp: the C++ interface of dsm, a distributed shared memory runtime for MPI programs.
//
// A program started with `mpirun -np N ./app` constructs one dsm::runtime, allocates shared memory
// with dsm::alloc, and from then on every rank reads and writes it with ordinary loads and stores.
// When a write becomes visible to another rank is decided by the consistency model chosen at launch
// (DSM_MODEL or --dsm-model=). Locks (dsm::mutex), condition variables (dsm::condition_variable)
// and dsm::barrier order the accesses.
//
//   int main(int argc, char** argv) {
//     dsm::runtime rt(argc, argv);                 // collective
//     long* counter = dsm::alloc<long>(1);         // collective, zero-filled, same pointer everywhere
//     dsm::mutex m{1};
//     { std::lock_guard g(m); ++*counter; }
//     dsm::barrier();                              // collective
//     if (dsm::rank() == 0) std::printf("%ld\n", *counter);   // == dsm::ranks()
//     dsm::free(counter);                          // collective
//   }
//
// Thread safety: one application thread per rank calls into dsm and touches shared memory at a time;
// other threads of the program may use MPI beside dsm. Collective calls must be made by every rank
// in the same order; a call out of step is reported as an error.
#ifndef DSM_DSM_HPP_
#define DSM_DSM_HPP_

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <new>
#if __cplusplus >= 202002L
#include <span>
#endif
#include <stdexcept>
#include <string>
#include <type_traits>

namespace dsm {

// The consistency models. Spelled as DSM_MODEL accepts them: sequential (sc), eager-release (erc),
// lazy-release (lrc), entry (ec).
enum class model { sequential, eager_release, lazy_release, entry };

// Thrown for configuration and init errors and for misuse detected before any protocol work
// (for example dsm::free of a pointer dsm did not allocate). what() names the cause.
class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// Collective. Initialises MPI with MPI_THREAD_MULTIPLE unless the program already has, reads the
// configuration, reserves the global space and starts this rank's engine. --dsm-* flags are removed
// from argv. A configuration error is reported once (by the lowest rank that found it) and every
// rank exits with status 2, so no rank is left waiting.
void init(int* argc, char*** argv);
// Collective. Stops the engine, prints or writes DSM_STATS, and finalizes MPI only if init
// initialised it.
void finalize();
// True between init and finalize.
bool initialized() noexcept;

// RAII form of init/finalize: `dsm::runtime rt(argc, argv);` at the top of main.
class runtime {
 public:
  runtime(int& argc, char**& argv) { init(&argc, &argv); }
  runtime() { init(nullptr, nullptr); }
  ~runtime() { finalize(); }
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
};

int rank() noexcept;
int ranks() noexcept;
model current_model() noexcept;
// "sequential", "eager-release", "lazy-release" or "entry".
const char* model_name(model m) noexcept;
// The coherence unit in bytes (DSM_UNIT).
std::size_t unit_size() noexcept;

// Where an allocation's units keep their home copies, under the models that have homes (eager
// release, home-based lazy release, entry consistency's unbound data). `configured` is DSM_HOME's
// choice; the others override it for one allocation (see DSM_HOME in the README). Sequential
// consistency and homeless lazy release ignore it.
enum class placement { configured, first_touch, cyclic, block };

namespace detail {
void* alloc_bytes(std::size_t bytes, std::size_t align, placement where = placement::configured);
void free_bytes(void* p);
void bind_bytes(std::uint64_t lock, const void* p, std::size_t bytes);
// dsm::free for destructors, which must not throw: a pointer dsm::alloc did not return ends the job.
void free_or_die(void* p) noexcept;
}  // namespace detail

// Collective: `count` zero-filled objects of T in the global space; the same pointer on every rank.
// T must be trivially copyable: its bytes move between ranks. `where` must be the same on every rank.
//   double* grid = dsm::alloc<double>(n * n);
//   double* rows = dsm::alloc<double>(n * n, dsm::placement::block);   // homes: a block per rank
template <class T>
T* alloc(std::size_t count, placement where = placement::configured) {
  static_assert(std::is_trivially_copyable_v<T>, "dsm::alloc<T>: T must be trivially copyable");
  if (count != 0 && count > SIZE_MAX / sizeof(T)) throw error("dsm::alloc: size overflows");
  return static_cast<T*>(detail::alloc_bytes(count * sizeof(T), alignof(T), where));
}

// Collective: p must be a pointer returned by dsm::alloc (the same one on every rank). The memory
// reads as zero when it is allocated again. A pointer dsm::alloc did not return throws dsm::error on
// every rank if every rank passed it; if the ranks disagree, the job ends with a message naming the
// calls that differ.
template <class T>
void free(T* p) {
  detail::free_bytes(const_cast<void*>(static_cast<const void*>(p)));
}

// ---- Allocation by one rank: any rank, at any time, with no other rank taking part.
//
// Each rank allocates from an arena of its own (DSM_ARENA bytes, above the collective heap), with
// no lock another rank holds and no message. The pointer means the same on every rank, and the
// memory is shared like any other: another rank sees what was written there under the model's
// rules (after a release that it then acquires, or after a barrier; under entry consistency, after
// a barrier, or with a lock the data is bound to). Any rank may free a block, whichever rank made it.
//   struct node { long value; node* next; };
//   node* n = dsm::new_<node>(node{42, nullptr});   // this rank alone
//   { std::lock_guard g(m); n->next = *head; *head = n; }
//   ...
//   dsm::delete_(n);                                // any rank
// Memory from here is not zeroed. dsm::free refuses its pointers, and dsm::mfree refuses
// dsm::alloc's, with dsm::error. Objects that live here may hold pointers into the global space
// (they mean the same everywhere), but not to a rank's own memory, and no virtual functions (each
// rank's code may sit at another address).

// Bytes from this rank's arena, aligned to `align` (a power of two; dsm::error otherwise), or null
// if the arena has no room.
void* malloc_bytes(std::size_t bytes, std::size_t align = alignof(std::max_align_t));
// Gives back a block dsm::malloc_bytes returned on any rank; null does nothing. Throws dsm::error
// for any other pointer and for a block freed already.
void mfree(void* p);

// One T constructed from args in this rank's arena. Throws std::bad_alloc if the arena is full.
template <class T, class... Args>
T* new_(Args&&... args) {
  void* p = malloc_bytes(sizeof(T), alignof(T));
  if (p == nullptr) throw std::bad_alloc();
  try {
    return ::new (p) T(static_cast<Args&&>(args)...);
  } catch (...) {
    mfree(p);
    throw;
  }
}

// Destroys and frees an object dsm::new_ made, on any rank.
template <class T>
void delete_(T* p) {
  if (p == nullptr) return;
  p->~T();
  mfree(const_cast<void*>(static_cast<const volatile void*>(p)));
}

namespace detail {
// dsm::mfree for Allocator::deallocate, which must not throw: a bad pointer ends the job.
void mfree_or_die(void* p) noexcept;
}  // namespace detail

// A standard Allocator over dsm::malloc_bytes: containers whose elements live in shared memory.
// To share the container itself, make it there too, and give other ranks its address:
//   using vec = std::vector<double, dsm::allocator<double>>;
//   vec* v = dsm::new_<vec>();           // rank 0
//   v->assign(1000, 1.0);                // the elements too are in rank 0's arena
// Every dsm::allocator is interchangeable with every other: memory one allocates, any frees.
template <class T>
class allocator {
 public:
  using value_type = T;
  allocator() noexcept = default;
  template <class U>
  allocator(const allocator<U>&) noexcept {}  // NOLINT: converting, as the Allocator requirements ask

  [[nodiscard]] T* allocate(std::size_t n) {
    if (n > SIZE_MAX / sizeof(T)) throw std::bad_array_new_length();
    void* p = malloc_bytes(n * sizeof(T), alignof(T));
    if (p == nullptr) throw std::bad_alloc();
    return static_cast<T*>(p);
  }
  void deallocate(T* p, std::size_t) noexcept { detail::mfree_or_die(p); }

  template <class U>
  friend bool operator==(const allocator&, const allocator<U>&) noexcept {
    return true;
  }
};

// Collective: an owning array of `count` zero-filled T in the global space, the same on every rank,
// freed (collectively) when it goes out of scope, as by dsm::alloc and dsm::free (std::span
// conversions from C++20 on):
//   dsm::array<double> grid(n * n, dsm::placement::block);
//   for (double& x : grid) ...;  std::span<double> s = grid;
template <class T>
class array {
 public:
  using value_type = T;
  using size_type = std::size_t;
  using iterator = T*;
  using const_iterator = const T*;

  array() noexcept = default;
  explicit array(std::size_t count, placement where = placement::configured)
      : data_(dsm::alloc<T>(count, where)), size_(count) {}
  ~array() { reset(); }
  array(array&& other) noexcept : data_(other.data_), size_(other.size_) { other.data_ = nullptr, other.size_ = 0; }
  array& operator=(array&& other) noexcept {
    if (this != &other) {
      reset();
      data_ = other.data_, size_ = other.size_;
      other.data_ = nullptr, other.size_ = 0;
    }
    return *this;
  }
  array(const array&) = delete;
  array& operator=(const array&) = delete;

  T* data() noexcept { return data_; }
  const T* data() const noexcept { return data_; }
  std::size_t size() const noexcept { return size_; }
  bool empty() const noexcept { return size_ == 0; }
  T& operator[](std::size_t i) noexcept { return data_[i]; }
  const T& operator[](std::size_t i) const noexcept { return data_[i]; }
  T* begin() noexcept { return data_; }
  T* end() noexcept { return data_ + size_; }
  const T* begin() const noexcept { return data_; }
  const T* end() const noexcept { return data_ + size_; }
#if __cplusplus >= 202002L
  operator std::span<T>() noexcept { return {data_, size_}; }
  operator std::span<const T>() const noexcept { return {data_, size_}; }
#endif

  // Collective: frees the memory now; the array is empty afterwards.
  void reset() noexcept {
    if (data_ != nullptr) detail::free_or_die(data_);
    data_ = nullptr, size_ = 0;
  }

 private:
  T* data_ = nullptr;
  std::size_t size_ = 0;
};

// A global lock named by an integer, the same lock on every rank that names it. The manager of lock
// `id` is rank id % ranks(). Meets Lockable and SharedLockable, so std::lock_guard, std::scoped_lock,
// std::unique_lock and std::shared_lock work:
//   dsm::mutex m{7};
//   { std::lock_guard g(m); shared[0] += 1; }
// Exclusive acquires are granted in the order they reach the lock's queue (FIFO): its manager, or
// a node-mate's place in the lock's shared word (node-mates queue behind each other there until a
// rank of another node asks). One exception bounds how long a waiter can be passed over: the rank
// that released the lock last keeps its token and re-acquires without asking anyone, until a
// waiter's request reaches it; from then on that waiter is next. acquire_shared() is the non-exclusive acquire of the
// entry model; where a model has no shared mode it acts as an exclusive acquire. try_lock() succeeds
// when it can take the lock without waiting for another holder; it never blocks on a holder.
class mutex {
 public:
  explicit constexpr mutex(std::uint64_t id) noexcept : id_(id) {}
  mutex(const mutex&) = delete;
  mutex& operator=(const mutex&) = delete;

  std::uint64_t id() const noexcept { return id_; }

  void acquire();
  void release();
  void acquire_shared();
  void release_shared();
  [[nodiscard]] bool try_acquire();
  [[nodiscard]] bool try_acquire_shared();

  void lock() { acquire(); }
  void unlock() { release(); }
  [[nodiscard]] bool try_lock() { return try_acquire(); }
  void lock_shared() { acquire_shared(); }
  void unlock_shared() { release_shared(); }
  [[nodiscard]] bool try_lock_shared() { return try_acquire_shared(); }

  // Collective: binds [p, p + bytes) of the global space to this lock. Every rank makes the same
  // bind calls in the same order (a rank out of step ends the job with a message naming the calls);
  // a range that leaves the global space or overlaps a range already bound (to any lock) throws
  // dsm::error on every rank. A lock may guard several ranges. It runs a barrier first, so the
  // range's value when bound is the one every rank sees after that barrier. Under the models other
  // than entry the binding is checked the same way and changes nothing else. Freeing memory
  // unbinds the ranges inside it.
  void bind(const void* p, std::size_t bytes) { detail::bind_bytes(id_, p, bytes); }

 private:
  std::uint64_t id_;
};

// ---- Condition variables.
//
// A global condition variable named by an integer, the same one on every rank that names it (its
// ids are its own: condition variable 1 is not dsm::mutex 1). Used with a dsm::mutex through
// std::unique_lock, as std::condition_variable is with std::mutex:
//   dsm::mutex m{1};
//   dsm::condition_variable not_empty{1};
//   // on a producer rank
//   { std::lock_guard g(m); push(q, item); }
//   not_empty.notify_one();
//   // on a consumer rank
//   std::unique_lock lock(m);
//   not_empty.wait(lock, [&] { return q->count > 0; });   // sleeps until notified and q has an item
//   take(q);
//
// wait(lock) releases the mutex and sleeps (it never polls) until a notify wakes it, then takes the
// mutex again before it returns. As in std, releasing and beginning to wait are one step: a notify
// made by a rank after it took the mutex that wait released is never lost. wait(lock, pred) is
// `while (!pred()) wait(lock);`. wait_for and wait_until also give up at a deadline, measured on
// this rank's clock (std::cv_status::timeout, or the predicate's value); a notify that chose this
// rank before the deadline still counts as a wake-up.
//
// notify_one() wakes the rank that has waited longest, notify_all() every waiter; with nobody
// waiting both do nothing. Either may be called with or without holding the mutex, and returns
// once the waiters it wakes are chosen, so it never wakes a wait this rank begins after it. A wait
// never wakes without a notify, but test the predicate in a loop all the same: another rank may
// take the mutex and change the data between the notify and the wake-up.
//
// The data the predicate reads is guarded by the mutex and made visible by it under every model;
// under entry consistency bind it to the mutex (mutex::bind), as any data a lock guards. The ranks
// waiting at once on one condition variable must use one mutex. Misuse throws dsm::error before
// any protocol work: a wait without holding the mutex, or with another mutex than the current
// waiters'. The condition variable's manager (rank id % ranks()) keeps the FIFO of waiters; if
// every rank but its waiters calls dsm::finalize, the job ends with an error naming them (waiters
// with a deadline are not counted: they wake by themselves).
class condition_variable {
 public:
  explicit constexpr condition_variable(std::uint64_t id) noexcept : id_(id) {}
  condition_variable(const condition_variable&) = delete;
  condition_variable& operator=(const condition_variable&) = delete;

  std::uint64_t id() const noexcept { return id_; }

  void wait(std::unique_lock<mutex>& lock);
  template <class Predicate>
  void wait(std::unique_lock<mutex>& lock, Predicate stop_waiting) {
    while (!stop_waiting()) wait(lock);
  }

  template <class Clock, class Duration>
  std::cv_status wait_until(std::unique_lock<mutex>& lock, const std::chrono::time_point<Clock, Duration>& t) {
    return wait_until_steady(lock, after(t - Clock::now())) ? std::cv_status::no_timeout : std::cv_status::timeout;
  }
  template <class Clock, class Duration, class Predicate>
  bool wait_until(std::unique_lock<mutex>& lock, const std::chrono::time_point<Clock, Duration>& t,
                  Predicate stop_waiting) {
    while (!stop_waiting()) {
      if (wait_until(lock, t) == std::cv_status::timeout) return stop_waiting();
    }
    return true;
  }
  template <class Rep, class Period>
  std::cv_status wait_for(std::unique_lock<mutex>& lock, const std::chrono::duration<Rep, Period>& d) {
    return wait_until(lock, after(d));
  }
  template <class Rep, class Period, class Predicate>
  bool wait_for(std::unique_lock<mutex>& lock, const std::chrono::duration<Rep, Period>& d, Predicate stop_waiting) {
    return wait_until(lock, after(d), static_cast<Predicate&&>(stop_waiting));
  }

  void notify_one();
  void notify_all();

 private:
  template <class Rep, class Period>
  static std::chrono::steady_clock::time_point after(const std::chrono::duration<Rep, Period>& d) {
    return std::chrono::steady_clock::now() + std::chrono::ceil<std::chrono::steady_clock::duration>(d);
  }
  // True if a notify woke it, false at the deadline.
  bool wait_until_steady(std::unique_lock<mutex>& lock, std::chrono::steady_clock::time_point deadline);
  std::uint64_t id_;
};

// ---- Objects: shared data whose coherence unit is the object itself (as in CRL and Orca).
//
// dsm::make_object<T>(args...) (collective) places one T in units of its own, so it never shares a
// unit with a neighbour, and only its own sizeof(T) bytes ever move between ranks. Each object
// carries its own lock; it is accessed through handles that take it, under every model:
//   auto acct = dsm::make_object<account>(100);            // collective
//   { auto w = acct.write(); w->balance += 10; }           // exclusive while w lives
//   { auto r = acct.read(); use(r->balance); }             // shared (entry) while r lives; const view
// Opening a handle acquires the object's lock (shared for read, exclusive for write; the other
// models have no shared mode) and makes the object readable or writable through the same protocol
// calls a page fault makes. A rank may hold handles on several objects at once; open them in one
// global order (for example by lock_id()) to avoid deadlock. Under entry consistency the object is
// the data bound to its lock.
namespace detail {
struct object_ref {
  void* p = nullptr;
  std::size_t bytes = 0;
  std::uint64_t lock = 0;
};
// Collective: allocates and binds; true on the one rank that must construct the object.
bool make_object_bytes(std::size_t bytes, std::size_t align, object_ref& out);
// Collective: the constructed object is visible to every rank.
void object_made(const object_ref& o);
// Collective: frees the object's memory and what every rank keeps of its lock.
void destroy_object(const object_ref& o);
void open_object(const object_ref& o, bool write);
void close_object(const object_ref& o, bool write) noexcept;
}  // namespace detail

namespace detail {
// An open handle on an object: holds its lock (shared when Write is false, under entry consistency)
// and gives a const (Write false) or mutable view of it; closing releases the lock.
template <class T, bool Write>
class handle {
 public:
  using view = std::conditional_t<Write, T, const T>;
  explicit handle(const object_ref& o) : o_(o) { open_object(o_, Write); }
  ~handle() {
    if (o_.p != nullptr) close_object(o_, Write);
  }
  handle(handle&& other) noexcept : o_(other.o_) { other.o_.p = nullptr; }
  handle(const handle&) = delete;
  handle& operator=(const handle&) = delete;
  handle& operator=(handle&&) = delete;

  view* get() const noexcept { return static_cast<view*>(o_.p); }
  view* operator->() const noexcept { return get(); }
  view& operator*() const noexcept { return *get(); }

 private:
  object_ref o_;
};
}  // namespace detail

template <class T>
using read_handle = detail::handle<T, false>;
template <class T>
using write_handle = detail::handle<T, true>;

template <class T>
class object {
 public:
  object() = default;
  [[nodiscard]] read_handle<T> read() const { return read_handle<T>(o_); }
  [[nodiscard]] write_handle<T> write() const { return write_handle<T>(o_); }
  // The lock the object carries (an id from 2^62 up) and its address, the same on every rank.
  std::uint64_t lock_id() const noexcept { return o_.lock; }
  const T* address() const noexcept { return static_cast<const T*>(o_.p); }
  explicit operator bool() const noexcept { return o_.p != nullptr; }

 private:
  template <class U, class... A>
  friend object<U> make_object(A&&... args);
  template <class U>
  friend void destroy(object<U>& o);
  detail::object_ref o_;
};

// Collective: a new object constructed from args (on one rank; every rank sees the result).
template <class T, class... Args>
object<T> make_object(Args&&... args) {
  static_assert(std::is_trivially_copyable_v<T>, "dsm::make_object<T>: T must be trivially copyable");
  object<T> obj;
  if (detail::make_object_bytes(sizeof(T), alignof(T), obj.o_)) {
    write_handle<T> w(obj.o_);
    ::new (static_cast<void*>(w.get())) T(static_cast<Args&&>(args)...);
  }
  detail::object_made(obj.o_);
  return obj;
}

// Collective: frees the object's memory and its lock's state on every rank; every copy of the handle
// object becomes dangling. No rank may hold the object's lock (the job ends with a message if one
// does). The next object made may reuse the lock id.
template <class T>
void destroy(object<T>& o) {
  detail::destroy_object(o.o_);
  o.o_ = {};
}

// ---- Atomics on shared integers, read like std::atomic_ref.
//
// Each operation is performed under a lock of the word's: the lock the word is bound to
// (dsm::mutex::bind), else one of 4,096 runtime locks chosen by its unit (ids from 2^63 up). So it
// is correct under every model, and like a lock hand-off it orders what came before: what a rank
// wrote before an atomic operation is visible to a rank whose later operation on the same word
// reads its result (under entry consistency: the data bound to that lock). Under entry consistency
// the word must be bound to a lock (dsm::error otherwise), and a rank must not hold that lock
// itself when it calls (locks are not recursive); load() takes it shared.
//   long* hits = dsm::alloc<long>(bins);
//   dsm::mutex{9}.bind(hits, bins * sizeof(long));           // collective; needed under entry
//   dsm::atomic_ref<long>(hits[b]).fetch_add(1);
// T is an integer of 4 or 8 bytes, aligned to its size, in the global space. The memory orders
// std::atomic_ref takes are accepted and every operation acts as seq_cst.
namespace detail {
enum class atomic_op : int { load, store, exchange, compare_exchange, fetch_add, fetch_and, fetch_or, fetch_xor };
// Applies op to the `size`-byte integer at p and returns the value it held before. compare_exchange
// stores `desired` if the value equals `operand`.
std::uint64_t atomic_apply(void* p, std::size_t size, atomic_op op, std::uint64_t operand, std::uint64_t desired);
}  // namespace detail

template <class T>
class atomic_ref {
  static_assert(std::is_integral_v<T> && !std::is_same_v<T, bool> && (sizeof(T) == 4 || sizeof(T) == 8),
                "dsm::atomic_ref<T>: T must be an integer of 4 or 8 bytes");

 public:
  using value_type = T;
  using difference_type = T;
  static constexpr std::size_t required_alignment = sizeof(T);
  static constexpr bool is_always_lock_free = false;

  explicit atomic_ref(T& obj) noexcept : p_(&obj) {}
  atomic_ref(const atomic_ref&) noexcept = default;
  atomic_ref& operator=(const atomic_ref&) = delete;

  T load(std::memory_order = std::memory_order_seq_cst) const { return apply(detail::atomic_op::load); }
  void store(T v, std::memory_order = std::memory_order_seq_cst) const { apply(detail::atomic_op::store, v); }
  T exchange(T v, std::memory_order = std::memory_order_seq_cst) const { return apply(detail::atomic_op::exchange, v); }
  bool compare_exchange_strong(T& expected, T desired, std::memory_order = std::memory_order_seq_cst) const {
    const T old = apply(detail::atomic_op::compare_exchange, expected, desired);
    if (old == expected) return true;
    expected = old;
    return false;
  }
  bool compare_exchange_weak(T& expected, T desired, std::memory_order order = std::memory_order_seq_cst) const {
    return compare_exchange_strong(expected, desired, order);
  }
  T fetch_add(T v, std::memory_order = std::memory_order_seq_cst) const { return apply(detail::atomic_op::fetch_add, v); }
  T fetch_sub(T v, std::memory_order = std::memory_order_seq_cst) const {
    return apply(detail::atomic_op::fetch_add, static_cast<T>(T{0} - v));
  }
  T fetch_and(T v, std::memory_order = std::memory_order_seq_cst) const { return apply(detail::atomic_op::fetch_and, v); }
  T fetch_or(T v, std::memory_order = std::memory_order_seq_cst) const { return apply(detail::atomic_op::fetch_or, v); }
  T fetch_xor(T v, std::memory_order = std::memory_order_seq_cst) const { return apply(detail::atomic_op::fetch_xor, v); }

  operator T() const { return load(); }
  T operator=(T v) const {
    store(v);
    return v;
  }
  T operator++() const { return static_cast<T>(fetch_add(1) + 1); }
  T operator++(int) const { return fetch_add(1); }
  T operator--() const { return static_cast<T>(fetch_sub(1) - 1); }
  T operator--(int) const { return fetch_sub(1); }
  T operator+=(T v) const { return static_cast<T>(fetch_add(v) + v); }
  T operator-=(T v) const { return static_cast<T>(fetch_sub(v) - v); }

  T* address() const noexcept { return p_; }

 private:
  T apply(detail::atomic_op op, T operand = 0, T desired = 0) const {
    using U = std::make_unsigned_t<T>;
    return static_cast<T>(static_cast<U>(detail::atomic_apply(
        p_, sizeof(T), op, static_cast<std::uint64_t>(static_cast<U>(operand)), static_cast<std::uint64_t>(static_cast<U>(desired)))));
  }
  T* p_;
};

// ---- Shared memory passed to the kernel and to MPI.
//
// The kernel does not take dsm's page faults, and MPI's transports read and write buffers in the
// kernel. libdsm therefore wraps the usual system calls (read, write, pread, pwrite, readv, writev,
// send, sendto, recv, recvfrom), stdio's fread and fwrite, and the program's own MPI calls
// (point-to-point, blocking and nonblocking, and the common collectives): a buffer in the global
// space goes through a private copy, so the bytes are the ones the model makes visible at the call
// and no call fails with EFAULT or hangs. The README lists exactly what is covered. For anything
// else that hands shared memory to the kernel or to a device, dsm::touch makes a range accessible
// first:
//   dsm::touch(block, bytes, dsm::access::read);
//   syscall(SYS_write, fd, block, bytes);
enum class access { read, write };
// Makes [p, p + bytes) of the global space readable (or writable) on this rank now, as the first
// load (or store) to each unit would. The access lasts until the protocol takes it back: another
// rank's write under sequential consistency, this rank's next acquire or barrier under the release
// models. Throws dsm::error for a range outside the global space.
void touch(const void* p, std::size_t bytes, access a);

// This rank's protocol counters since init (DSM_STATS prints the same at finalize).
struct statistics {
  std::uint64_t messages_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t read_misses = 0;
  std::uint64_t write_misses = 0;
  std::uint64_t units_fetched = 0;  // units (or their diffs) brought here, by message or by node_copies
  std::uint64_t node_copies = 0;  // of those, copied from a node-mate's home copy without a message
  std::uint64_t twins_created = 0;  // copies made of a unit before writing it, to diff against later
  std::uint64_t diffs_created = 0;
  std::uint64_t diffs_applied = 0;
  std::uint64_t invalidations = 0;
  std::uint64_t lock_acquires = 0;
  std::uint64_t remote_lock_acquires = 0;
  std::uint64_t barriers = 0;
  std::uint64_t remaps = 0;  // faults served locally after the runtime dropped a mapping
  std::uint64_t pushes_renewed = 0;  // read misses on a unit its home pushed with a barrier, served here (home-based lazy release)
  std::uint64_t ring_full_waits = 0;  // messages that found a node-mate's ring full and waited in this rank
  std::uint64_t protocol_bytes = 0;  // now, not a count: twins, diffs and write notices kept (lazy release)
  std::uint64_t lock_records = 0;  // now, not a count: locks this rank keeps a record of (as a holder, and as a manager)
  std::uint64_t waiting_peak = 0;  // the most messages that have waited at once in this rank for ring space
};
statistics stats() noexcept;

// Collective: every rank waits until all have arrived. A release by every rank then an acquire, so
// writes made before it are visible after it under every model.
void barrier();

}  // namespace dsm

#endif  // DSM_DSM_HPP_
