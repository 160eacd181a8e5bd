// api.cpp: the public C++ and C entry points (api/dsm/dsm.hpp, api/dsm/dsm.h): allocation, locks,
// barriers, objects; see dsm.hpp for the contracts. init and finalize are in wiring.cpp.
#include <mpi.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include "base/log.hpp"
#include "base/trace.hpp"
#include "dsm/dsm.h"
#include "dsm/dsm.hpp"
#include "facade/runtime.hpp"
#include "interpose/bounce.hpp"

namespace dsm {
namespace {

using rt::g_ctx;

rt::runtime& ctx() {
  if (g_ctx == nullptr) {
    std::fprintf(stderr, "dsm: error: a dsm call before dsm::init or after dsm::finalize\n");
    std::abort();
  }
  return *rt::the_runtime();
}

}  // namespace

int rank() noexcept { return g_ctx ? g_ctx->rank : 0; }
int ranks() noexcept { return g_ctx ? g_ctx->ranks : 1; }
model current_model() noexcept { return g_ctx ? g_ctx->opt.model : model::sequential; }
std::size_t unit_size() noexcept { return g_ctx ? g_ctx->opt.unit : 0; }
statistics stats() noexcept { return g_ctx ? g_ctx->stats.snapshot() : statistics{}; }

const char* model_name(model m) noexcept { return rt::name_of(m); }

namespace detail {

void* alloc_bytes(std::size_t bytes, std::size_t align, placement where) {
  rt::runtime& c = ctx();
  if (align > c.opt.unit) throw dsm::error("dsm::alloc: alignment " + std::to_string(align) + " exceeds the unit");
  c.barriers->arrive(rt::collective::alloc, bytes);
  std::optional<std::uint64_t> off;
  {
    std::lock_guard<rt::runtime_mutex> g(c.op_mu);
    off = c.heap->allocate(bytes);
    if (off && where != placement::configured) c.heap->place(*off, where);
  }
  if (!off) {
    throw dsm::error("dsm::alloc(" + std::to_string(bytes) + " bytes): the global space is full (DSM_SIZE=" +
                     std::to_string(c.opt.size) + ", " + std::to_string(c.heap->in_use()) +
                     " bytes in use); valid: a larger DSM_SIZE");
  }
  return c.space->app_base() + *off;
}

void free_bytes(void* p) {
  if (p == nullptr) return;
  rt::runtime& c = ctx();
  std::optional<std::uint64_t> len;
  std::uint64_t off = 0;
  if (c.space->contains(p)) {
    off = static_cast<std::uint64_t>(static_cast<std::byte*>(p) - c.space->app_base());
    std::lock_guard<rt::runtime_mutex> g(c.op_mu);
    len = c.heap->length_of(off);
  }
  if (c.proto->needs_barrier_before_free()) barrier();
  if (len) {
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    c.proto->before_free(off / c.opt.unit, (off + *len) / c.opt.unit);
  }
  // The check is collective too: if every rank passes the same foreign pointer, every rank throws;
  // if only some do, the ranks are out of step and the job ends with a message naming both calls.
  c.barriers->arrive(rt::collective::free, len ? off : rt::kForeignPointer);
  if (!len) {
    char where[32];
    std::snprintf(where, sizeof where, "%p", p);
    throw dsm::error(std::string("dsm::free(") + where + "): not a pointer returned by dsm::alloc" +
                     (c.arena->contains(p) ? " (it is in a rank's arena: memory from dsm::malloc_bytes or dsm::new_ "
                                             "goes back with dsm::mfree or dsm::delete_)"
                                           : ""));
  }
  {
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    std::lock_guard<rt::runtime_mutex> g(c.state_mu);
    c.space->zero(off, *len);
    c.heap->release(off);
    c.bound.remove_within(off, off + *len);
    for (std::uint64_t u = off / c.opt.unit; u < (off + *len) / c.opt.unit; ++u) c.table->set_extent(u, c.opt.unit);
  }
  {
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    c.proto->on_free(off / c.opt.unit, (off + *len) / c.opt.unit);
  }
}

}  // namespace detail

namespace {
// Ids from here up name the locks objects carry.
constexpr std::uint64_t kObjectLocks = std::uint64_t{1} << 62;
// Ids from here up are the locks of atomics on words bound to no lock, one of kAtomicLockCount
// chosen by the word's unit: a bounded number of locks, whatever the program touches.
constexpr std::uint64_t kAtomicLocks = std::uint64_t{1} << 63;
constexpr std::uint64_t kAtomicLockCount = 4096;

void check_user_lock(std::uint64_t id) {
  if (id >= kObjectLocks)
    throw dsm::error("dsm::mutex " + std::to_string(id) + ": ids from 2^62 up are reserved for the locks of objects");
}

bool acquire_lock(std::uint64_t id, bool exclusive, bool try_only) {
  rt::runtime& c = ctx();
  return rt::acquire_mutex(*c.proto, *c.locks, id, exclusive, try_only);
}

void release_lock(std::uint64_t id, bool exclusive) {
  rt::runtime& c = ctx();
  rt::release_mutex(*c.proto, *c.locks, id, exclusive);
}

// Makes [p, p + bytes) accessible as a fault would: the same protocol calls, before the access.
void touch(rt::runtime& c, const void* p, std::size_t bytes, bool write) {
  const std::uint64_t first = c.space->unit_of(p);
  const std::uint64_t last = c.space->unit_of(static_cast<const std::byte*>(p) + bytes - 1);
  for (std::uint64_t u = first; u <= last; ++u) {
    {
      std::lock_guard<rt::runtime_mutex> g(c.state_mu);
      if (c.table->map_if_allowed(u, write)) continue;
    }
    rt::trace::span miss(write ? rt::trace::ev::write_miss : rt::trace::ev::read_miss, u);
    if (write) c.proto->write_miss(u);
    else c.proto->read_miss(u);
  }
}
}  // namespace

void mutex::acquire() {
  check_user_lock(id_);
  acquire_lock(id_, true, false);
}
void mutex::release() {
  check_user_lock(id_);
  release_lock(id_, true);
}
void mutex::acquire_shared() {
  check_user_lock(id_);
  acquire_lock(id_, false, false);
}
void mutex::release_shared() {
  check_user_lock(id_);
  release_lock(id_, false);
}
bool mutex::try_acquire() {
  check_user_lock(id_);
  return acquire_lock(id_, true, true);
}
bool mutex::try_acquire_shared() {
  check_user_lock(id_);
  return acquire_lock(id_, false, true);
}

// ---- Condition variables (runtime/sync/condvars.hpp).

namespace {
std::uint64_t lock_of_wait(std::uint64_t cv, std::unique_lock<mutex>& lock) {
  if (lock.mutex() == nullptr || !lock.owns_lock()) {
    throw dsm::error("dsm::condition_variable " + std::to_string(cv) + ": wait by rank " + std::to_string(ctx().rank) +
                     " with a std::unique_lock that holds no dsm::mutex");
  }
  check_user_lock(lock.mutex()->id());
  return lock.mutex()->id();
}
}  // namespace

void condition_variable::wait(std::unique_lock<mutex>& lock) { ctx().condvars->wait(id_, lock_of_wait(id_, lock)); }
bool condition_variable::wait_until_steady(std::unique_lock<mutex>& lock,
                                           std::chrono::steady_clock::time_point deadline) {
  return ctx().condvars->wait(id_, lock_of_wait(id_, lock), &deadline);
}
void condition_variable::notify_one() { ctx().condvars->notify(id_, false); }
void condition_variable::notify_all() { ctx().condvars->notify(id_, true); }

namespace detail {

namespace {
void bind_range(rt::runtime& c, std::uint64_t lock, const void* p, std::size_t bytes) {
  const bool inside = c.space->contains(p) && bytes > 0 &&
                      bytes <= c.space->size() - static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - c.space->app_base());
  const std::uint64_t off = inside ? static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - c.space->app_base()) : 0;
  // Settled data first (entry consistency: the value bound is the one every rank sees now).
  barrier();
  std::uint64_t sum = 1469598103934665603ull;  // FNV-1a of (lock, offset or foreign, bytes)
  for (std::uint64_t v : {lock, inside ? off : rt::kForeignPointer, static_cast<std::uint64_t>(bytes)}) {
    for (int i = 0; i < 8; ++i) sum = (sum ^ ((v >> (8 * i)) & 0xff)) * 1099511628211ull;
  }
  c.barriers->arrive(rt::collective::bind, sum);
  char what[96];
  std::snprintf(what, sizeof what, "dsm::mutex(%llu).bind(%p, %zu)", static_cast<unsigned long long>(lock), p, bytes);
  if (!inside) throw dsm::error(std::string(what) + ": the range is not inside the global space (memory from dsm::alloc)");
  {
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    {
      std::lock_guard<rt::runtime_mutex> g(c.state_mu);
      const std::string why = c.bound.conflict(off, bytes);
      if (!why.empty()) throw dsm::error(std::string(what) + ": " + why);
    }
    c.proto->settle(off / c.opt.unit, (off + bytes - 1) / c.opt.unit + 1);
    std::lock_guard<rt::runtime_mutex> g(c.state_mu);
    c.bound.add(lock, off, bytes);
  }
  // No rank acquires the lock before every rank knows the range: a grant carries the bound bytes.
  c.barriers->arrive(rt::collective::bind, sum);
}
}  // namespace

void bind_bytes(std::uint64_t lock, const void* p, std::size_t bytes) {
  check_user_lock(lock);
  bind_range(ctx(), lock, p, bytes);
}

bool make_object_bytes(std::size_t bytes, std::size_t align, object_ref& out) {
  rt::runtime& c = ctx();
  if (bytes == 0) throw dsm::error("dsm::make_object: an object of 0 bytes");
  void* p = alloc_bytes(bytes, align);
  std::uint64_t lock = kObjectLocks + c.objects;
  if (c.free_objects.empty()) {
    ++c.objects;
  } else {
    lock = c.free_objects.back();
    c.free_objects.pop_back();
  }
  {
    // Its last unit holds only the object's tail: only those bytes move.
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    std::lock_guard<rt::runtime_mutex> g(c.state_mu);
    const std::uint64_t first = c.space->unit_of(p);
    const std::uint64_t last = c.space->unit_of(static_cast<std::byte*>(p) + bytes - 1);
    c.table->set_extent(last, bytes - (last - first) * c.opt.unit);
  }
  bind_range(c, lock, p, bytes);
  out = {p, bytes, lock};
  // The lock's manager holds it first (its data starts there under entry consistency).
  return static_cast<std::uint64_t>(c.rank) == lock % static_cast<std::uint64_t>(c.ranks);
}

void object_made(const object_ref&) { barrier(); }

void destroy_object(const object_ref& o) {
  if (o.p == nullptr) return;
  rt::runtime& c = ctx();
  rt::lock_server* own = c.proto->locks();
  const bool held = own ? own->holds(o.lock) : c.locks->holds(o.lock);
  // Every rank is done with the object: nobody holds or waits for its lock. A rank that holds it
  // makes the calls disagree, and the job ends with a message naming it.
  c.barriers->arrive(rt::collective::destroy, held ? rt::kLockHeld : o.lock);
  if (held) throw dsm::error("dsm::destroy: rank " + std::to_string(c.rank) + " holds the object's lock");
  // The lock's manager may still await a message about it that left before the barrier (a try's
  // probe result, an entry holder's answer); it arrives within a message's flight.
  for (;;) {
    {
      std::lock_guard<rt::runtime_mutex> op(c.op_mu);
      if (own ? own->forget_lock(o.lock) : c.locks->forget(o.lock)) break;
    }
    std::this_thread::sleep_for(std::chrono::microseconds(50));
  }
  free_bytes(o.p);
  c.free_objects.push_back(o.lock);
}

void open_object(const object_ref& o, bool write) {
  if (o.p == nullptr) throw dsm::error("dsm::object: a handle on an empty object");
  acquire_lock(o.lock, write, false);
  rt::runtime& c = ctx();
  touch(c, o.p, o.bytes, write);
}

void close_object(const object_ref& o, bool write) noexcept {
  try {
    release_lock(o.lock, write);
  } catch (const std::exception& e) {
    rt::fatal("%s", e.what());
  }
}

std::uint64_t atomic_apply(void* p, std::size_t size, atomic_op op, std::uint64_t operand, std::uint64_t desired) {
  rt::runtime& c = ctx();
  auto* bytes = static_cast<std::byte*>(p);
  if (!c.space->contains(p) || !c.space->contains(bytes + size - 1)) {
    throw dsm::error("dsm::atomic_ref: the integer is not in the global space");
  }
  if (reinterpret_cast<std::uintptr_t>(p) % size != 0) {
    throw dsm::error("dsm::atomic_ref: the integer is not aligned to its size (" + std::to_string(size) + " bytes)");
  }
  const auto off = static_cast<std::uint64_t>(bytes - c.space->app_base());
  std::uint64_t lock;
  {
    std::lock_guard<rt::runtime_mutex> g(c.op_mu);
    const rt::bindings::range* r = c.bound.find(off);
    if (r != nullptr && off + size <= r->offset + r->bytes) {
      lock = r->lock;
    } else if (r != nullptr || c.opt.model == model::entry) {
      throw dsm::error(std::string("dsm::atomic_ref: under entry consistency the integer must lie in a range bound to a "
                                   "lock (dsm::mutex::bind)") +
                       (r != nullptr ? "; it straddles the end of one" : ""));
    } else {
      lock = kAtomicLocks + off / c.opt.unit % kAtomicLockCount;
    }
  }
  const bool exclusive = op != atomic_op::load;
  acquire_lock(lock, exclusive, false);
  std::uint64_t old = 0;
  std::memcpy(&old, p, size);
  const std::uint64_t mask = size == 8 ? ~std::uint64_t{0} : (std::uint64_t{1} << (8 * size)) - 1;
  std::uint64_t value = old;
  switch (op) {
    case atomic_op::load: break;
    case atomic_op::store: case atomic_op::exchange: value = operand; break;
    case atomic_op::compare_exchange: value = old == operand ? desired : old; break;
    case atomic_op::fetch_add: value = (old + operand) & mask; break;
    case atomic_op::fetch_and: value = old & operand; break;
    case atomic_op::fetch_or: value = old | operand; break;
    case atomic_op::fetch_xor: value = old ^ operand; break;
  }
  if (value != old) std::memcpy(p, &value, size);
  release_lock(lock, exclusive);
  return old;
}

void free_or_die(void* p) noexcept {
  try {
    free_bytes(p);
  } catch (const std::exception& e) {
    rt::fatal("%s", e.what());
  }
}

void mfree_or_die(void* p) noexcept {
  try {
    mfree(p);
  } catch (const std::exception& e) {
    rt::fatal("%s", e.what());
  }
}

}  // namespace detail

namespace {
// True if p is a pointer dsm::alloc returned and dsm::free has not taken back.
bool from_alloc(rt::runtime& c, const void* p) {
  if (!c.space->contains(p)) return false;
  std::lock_guard<rt::runtime_mutex> g(c.op_mu);
  return c.heap->length_of(static_cast<std::uint64_t>(static_cast<const std::byte*>(p) - c.space->app_base())).has_value();
}
}  // namespace

void touch(const void* p, std::size_t bytes, access a) {
  if (bytes == 0) return;
  rt::runtime& c = ctx();
  if (!c.space->contains(p) || !c.space->contains(static_cast<const std::byte*>(p) + bytes - 1)) {
    throw dsm::error("dsm::touch: the range is not inside the global space");
  }
  touch(c, p, bytes, a == access::write);
}

void* malloc_bytes(std::size_t bytes, std::size_t align) {
  rt::runtime& c = ctx();
  if (align == 0 || (align & (align - 1)) != 0) {
    throw dsm::error("dsm::malloc_bytes: alignment " + std::to_string(align) + " is not a power of two");
  }
  if (bytes > c.opt.arena || align > c.opt.arena / 2) return nullptr;
  return c.arena->allocate(bytes, align);
}

void mfree(void* p) {
  if (p == nullptr) return;
  rt::runtime& c = ctx();
  const rt::arenas::freed r = c.arena->free(p);
  if (r == rt::arenas::freed::ok) return;
  char where[32];
  std::snprintf(where, sizeof where, "%p", p);
  if (r == rt::arenas::freed::not_live) {
    throw dsm::error(std::string("dsm::mfree(") + where +
                     "): no live block starts there (freed already, or not a pointer dsm::malloc_bytes returned)");
  }
  throw dsm::error(std::string("dsm::mfree(") + where + "): not a pointer from dsm::malloc_bytes or dsm::new_" +
                   (from_alloc(c, p) ? " (memory from dsm::alloc goes back with the collective dsm::free)" : ""));
}

void barrier() {
  rt::runtime& c = ctx();
  const std::uint64_t n = c.stats.barriers.load(std::memory_order_relaxed);  // traced as the barrier's number
  rt::trace::span whole(rt::trace::ev::barrier, n);
  rt::sync_payloads* payloads = c.proto->payloads();
  std::vector<std::byte> arrival;
  {
    rt::trace::span phase(rt::trace::ev::barrier_flush, n);
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    c.proto->on_barrier();
    if (payloads) arrival = payloads->barrier_arrival();
  }
  std::optional<rt::trace::span> waiting(std::in_place, rt::trace::ev::barrier_wait, n);
  const std::vector<std::byte> release = c.barriers->arrive(rt::collective::barrier, 0, arrival);
  waiting.reset();
  rt::collection* collect = nullptr;  // when the release asks for a garbage collection
  {
    rt::trace::span phase(rt::trace::ev::barrier_apply, n);
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    if (payloads && payloads->on_barrier_release(release)) {
      collect = c.proto->collector();
      DSM_REQUIRE(collect != nullptr, "a barrier's release asked for a garbage collection the model does not have");
      collect->collect_validate();
    }
  }
  if (collect) {
    rt::trace::span phase(rt::trace::ev::barrier_collect, n);
    // Every rank has fetched what it lacked; then nobody needs the old diffs any more.
    c.barriers->arrive(rt::collective::barrier, 1);
    std::lock_guard<rt::runtime_mutex> op(c.op_mu);
    collect->collect_discard();
  }
  rt::bump(c.stats.barriers);
}

}  // namespace dsm

// The C interface.
extern "C" {

int dsm_init(int* argc, char*** argv) {
  try {
    dsm::init(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "dsm: error: %s\n", e.what());
    return -1;
  }
  return 0;
}
void dsm_finalize(void) { dsm::finalize(); }
int dsm_rank(void) { return dsm::rank(); }
int dsm_ranks(void) { return dsm::ranks(); }
dsm_model dsm_current_model(void) { return static_cast<dsm_model>(dsm::current_model()); }

#define DSM_C_CALL(expr)                                  \
  try {                                                   \
    expr;                                                 \
  } catch (const std::exception& e) {                     \
    dsm::rt::fatal("%s", e.what());                       \
  }

namespace {
// The message of this thread's last error a C call returned (dsm_last_error).
thread_local std::string t_last_error;
}  // namespace

// A recoverable error (dsm::error: the same on every rank of a collective call, or this rank's own
// in a call that is not collective) becomes `fail` and a message for dsm_last_error; anything
// else ends the job, as the ranks may be out of step.
#define DSM_C_TRY(expr, fail)                             \
  try {                                                   \
    expr;                                                 \
  } catch (const dsm::error& e) {                         \
    t_last_error = e.what();                              \
    return fail;                                          \
  } catch (const std::exception& e) {                     \
    dsm::rt::fatal("%s", e.what());                       \
  }

const char* dsm_last_error(void) { return t_last_error.c_str(); }

void* dsm_alloc(size_t bytes) {
  void* p = nullptr;
  DSM_C_TRY(p = dsm::detail::alloc_bytes(bytes, alignof(std::max_align_t)), nullptr);
  return p;
}
int dsm_free(void* p) {
  DSM_C_TRY(dsm::detail::free_bytes(p), -1);
  return 0;
}
void* dsm_malloc(size_t bytes) {
  void* p = nullptr;
  DSM_C_TRY(p = dsm::malloc_bytes(bytes), nullptr);
  if (p == nullptr) t_last_error = "dsm_malloc(" + std::to_string(bytes) + "): this rank's arena is full (DSM_ARENA)";
  return p;
}
int dsm_mfree(void* p) {
  DSM_C_TRY(dsm::mfree(p), -1);
  return 0;
}
void dsm_lock_acquire(uint64_t id) { DSM_C_CALL(dsm::mutex(id).acquire()); }
void dsm_lock_release(uint64_t id) { DSM_C_CALL(dsm::mutex(id).release()); }
void dsm_lock_acquire_shared(uint64_t id) { DSM_C_CALL(dsm::mutex(id).acquire_shared()); }
void dsm_lock_release_shared(uint64_t id) { DSM_C_CALL(dsm::mutex(id).release_shared()); }
int dsm_lock_try_acquire(uint64_t id) {
  int r = 0;
  DSM_C_CALL(r = dsm::mutex(id).try_acquire() ? 1 : 0);
  return r;
}
void dsm_barrier(void) { DSM_C_CALL(dsm::barrier()); }

int dsm_touch(const void* p, size_t bytes, int write) {
  DSM_C_TRY(dsm::touch(p, bytes, write ? dsm::access::write : dsm::access::read), -1);
  return 0;
}

int64_t dsm_atomic_load(int64_t* p) {
  int64_t r = 0;
  DSM_C_CALL(r = dsm::atomic_ref<int64_t>(*p).load());
  return r;
}
int64_t dsm_atomic_fetch_add(int64_t* p, int64_t value) {
  int64_t r = 0;
  DSM_C_CALL(r = dsm::atomic_ref<int64_t>(*p).fetch_add(value));
  return r;
}
int64_t dsm_atomic_exchange(int64_t* p, int64_t value) {
  int64_t r = 0;
  DSM_C_CALL(r = dsm::atomic_ref<int64_t>(*p).exchange(value));
  return r;
}
int64_t dsm_atomic_compare_exchange(int64_t* p, int64_t expected, int64_t desired) {
  int64_t r = expected;
  DSM_C_CALL(dsm::atomic_ref<int64_t>(*p).compare_exchange_strong(r, desired));
  return r;
}
int dsm_bind(uint64_t id, const void* p, size_t bytes) {
  DSM_C_TRY(dsm::detail::bind_bytes(id, p, bytes), -1);
  return 0;
}

// Condition variables.
void dsm_cond_wait(uint64_t cv_id, uint64_t lock_id) {
  DSM_C_CALL(dsm::check_user_lock(lock_id); dsm::ctx().condvars->wait(cv_id, lock_id));
}
void dsm_cond_signal(uint64_t cv_id) { DSM_C_CALL(dsm::condition_variable(cv_id).notify_one()); }
void dsm_cond_broadcast(uint64_t cv_id) { DSM_C_CALL(dsm::condition_variable(cv_id).notify_all()); }

}  // extern "C"
