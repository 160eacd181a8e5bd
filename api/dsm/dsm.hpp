// dsm.hpp: the C++ interface of dsm, a distributed shared memory runtime for MPI programs.
//
// A program started with `mpirun -np N ./app` constructs one dsm::runtime, allocates shared memory
// with dsm::alloc, and from then on every rank reads and writes it with ordinary loads and stores.
// When a write becomes visible to another rank is decided by the consistency model chosen at launch
// (DSM_MODEL or --dsm-model=). Locks (dsm::mutex) and dsm::barrier order the accesses.
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

#include <cstddef>
#include <cstdint>
#include <new>
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

namespace detail {
void* alloc_bytes(std::size_t bytes, std::size_t align);
void free_bytes(void* p);
}  // namespace detail

// Collective: `count` zero-filled objects of T in the global space; the same pointer on every rank.
// T must be trivially copyable: its bytes move between ranks.
//   double* grid = dsm::alloc<double>(n * n);
template <class T>
T* alloc(std::size_t count) {
  static_assert(std::is_trivially_copyable_v<T>, "dsm::alloc<T>: T must be trivially copyable");
  if (count != 0 && count > SIZE_MAX / sizeof(T)) throw error("dsm::alloc: size overflows");
  return static_cast<T*>(detail::alloc_bytes(count * sizeof(T), alignof(T)));
}

// Collective: p must be a pointer returned by dsm::alloc (the same one on every rank). The memory
// reads as zero when it is allocated again. A pointer dsm::alloc did not return throws dsm::error on
// every rank if every rank passed it; if the ranks disagree, the job ends with a message naming the
// calls that differ.
template <class T>
void free(T* p) {
  detail::free_bytes(const_cast<void*>(static_cast<const void*>(p)));
}

// A global lock named by an integer, the same lock on every rank that names it. The manager of lock
// `id` is rank id % ranks(). Meets Lockable and SharedLockable, so std::lock_guard, std::scoped_lock,
// std::unique_lock and std::shared_lock work:
//   dsm::mutex m{7};
//   { std::lock_guard g(m); shared[0] += 1; }
// Exclusive acquires are granted in FIFO order. acquire_shared() is the non-exclusive acquire of the
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

 private:
  std::uint64_t id_;
};

// This rank's protocol counters since init (DSM_STATS prints the same at finalize).
struct statistics {
  std::uint64_t messages_sent = 0;
  std::uint64_t bytes_sent = 0;
  std::uint64_t read_misses = 0;
  std::uint64_t write_misses = 0;
  std::uint64_t units_fetched = 0;
  std::uint64_t diffs_created = 0;
  std::uint64_t diffs_applied = 0;
  std::uint64_t invalidations = 0;
  std::uint64_t lock_acquires = 0;
  std::uint64_t remote_lock_acquires = 0;
  std::uint64_t barriers = 0;
  std::uint64_t remaps = 0;  // faults served locally after the runtime dropped a mapping
  std::uint64_t protocol_bytes = 0;  // now, not a count: twins, diffs and write notices kept (lazy release)
};
statistics stats() noexcept;

// Collective: every rank waits until all have arrived. A release by every rank then an acquire, so
// writes made before it are visible after it under every model.
void barrier();

}  // namespace dsm

#endif  // DSM_DSM_HPP_
