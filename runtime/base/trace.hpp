// trace.hpp: protocol events, for DSM_TRACE (a Chrome trace event file, one row per rank) and for
// DSM_LOG=debug (one line per event), from the same hooks.
//
// The hooks sit where the runtime decides something: misses (a duration around the protocol's
// miss), fetches, twins, diffs created and applied, invalidations, acquires and releases
// (durations), barrier phases, and every message between two ranks (a "send" slice on the sender
// and a "handle" slice on the receiver, joined by a flow arrow). When neither DSM_TRACE nor
// DSM_LOG=debug is set a hook costs one predictable branch on a global that is written only before
// the engine thread starts and after it stops.
//
// A protocol reports its decisions with DSM_TRACE_NOTE(fetch | twin | diff_created | diff_applied |
// invalidate, unit, peer rank or -1, bytes), next to the matching counter bump; a detection path other
// than the fault handler (object handles) wraps its read_miss/write_miss call in a trace::span.
//
// Recording is lock-free and allocation-free (a preallocated array and an atomic index), so it is
// safe in the SIGSEGV handler and from any runtime thread. Events past the array's capacity
// (DSM_TRACE_EVENTS, default 1M per rank) are counted and dropped. Timestamps are on a clock common
// to all ranks: each rank measures its offset to rank 0 at init (ping-pong, best of several
// rounds). start() and finish() are collective over the runtime's communicator: finish() gathers
// every rank's events to rank 0, which writes one JSON file.
#ifndef DSM_RUNTIME_BASE_TRACE_HPP_
#define DSM_RUNTIME_BASE_TRACE_HPP_

#include <mpi.h>

#include <cstdint>
#include <string>

namespace dsm::rt::trace {

// What happened. Durations: the *_miss, acquire, release, barrier*, send, handle kinds.
enum class ev : std::uint16_t {
  read_miss,
  write_miss,
  fetch,         // a unit (or, lazy release, the diffs it lacked) arrived
  twin,          // a twin was made at the first write of an interval
  diff_created,
  diff_applied,
  invalidate,    // this rank's copy of a unit became invalid
  acquire,
  release,
  barrier,       // the whole dsm::barrier
  barrier_flush,    // its release part (diffs pushed, interval closed)
  barrier_wait,     // waiting at rank 0 for every rank
  barrier_apply,    // its acquire part (write notices applied; before a garbage collection, every diff lacked)
  barrier_collect,  // lazy release garbage collection: the second barrier and the discard
  send,          // a message to another rank
  handle,        // a message from another rank, while it is handled
  cv_wait,       // dsm::condition_variable::wait, from the request to the mutex taken again
  cv_notify,     // notify_one / notify_all, until the manager has answered
  kCount
};
const char* name(ev e) noexcept;

enum watch : unsigned { kTrace = 1, kDebugLog = 2 };
// Set at init, cleared at finalize; read by every hook.
extern unsigned g_watch;
inline bool watching() noexcept { return __builtin_expect(g_watch != 0, 0); }

std::int64_t now() noexcept;  // ns on this rank's clock

// One event. peer: the other rank (messages), or the lock/owner rank where it helps; -1 if none.
void record(ev e, std::int64_t start, std::int64_t end, std::uint64_t id, int peer = -1, std::uint64_t bytes = 0) noexcept;
// A message: `type` is the msg value, `box` the destination inbox, `seq` its number on the channel
// (sender, receiver, inbox); sender and receiver number a channel alike, which pairs them.
void message(ev e, std::int64_t start, std::int64_t end, int peer, std::uint16_t type, std::uint8_t box,
             std::uint64_t seq, std::uint64_t id, std::uint64_t bytes) noexcept;
// Which thread records: the engine thread calls set_engine_thread() once.
void set_engine_thread() noexcept;
// DSM_LOG=debug: the line that says a duration began (so that a hang shows where).
void begin_line(ev e, std::uint64_t id, int peer) noexcept;

inline void note(ev e, std::uint64_t id, int peer = -1, std::uint64_t bytes = 0) noexcept {
  if (watching()) {
    const std::int64_t t = now();
    record(e, t, t, id, peer, bytes);
  }
}

// A duration: from construction to destruction.
class span {
 public:
  span(ev e, std::uint64_t id, int peer = -1) noexcept : e_(e), id_(id), peer_(peer), start_(watching() ? now() : -1) {
    if (start_ >= 0 && (g_watch & kDebugLog)) begin_line(e, id, peer);
  }
  ~span() {
    if (start_ >= 0) record(e_, start_, now(), id_, peer_);
  }
  span(const span&) = delete;
  span& operator=(const span&) = delete;

 private:
  ev e_;
  std::uint64_t id_;
  int peer_;
  std::int64_t start_;
};

// Names a message type (message()'s `type`) in the debug log and the trace file. The transport
// defines the types; base/ does not know them, so init hands the namer in.
using type_namer = const char* (*)(std::uint16_t type) noexcept;

// Collective over comm, before the engine starts: sets g_watch, and if path is non-empty allocates
// the event array and measures the clock offset to rank 0.
void start(MPI_Comm comm, int rank, int ranks, const std::string& path, bool debug_log, std::uint64_t capacity,
           const std::string& model, type_namer name_type);
// Collective over comm, after the engine has stopped: gathers the events to rank 0, which writes
// the file. Clears g_watch.
void finish(MPI_Comm comm);

}  // namespace dsm::rt::trace

#define DSM_TRACE_NOTE(e, ...)                                                                  \
  do {                                                                                          \
    if (::dsm::rt::trace::watching()) ::dsm::rt::trace::note(::dsm::rt::trace::ev::e, __VA_ARGS__); \
  } while (0)

#endif  // DSM_RUNTIME_BASE_TRACE_HPP_
