// message.hpp: the wire format of every protocol message and its validating decoder.
//
// A message is a fixed 48-byte header followed by `length` payload bytes. The header names the
// destination inbox of the receiving rank (its engine or its application thread), the sender, and
// what the message is about (a unit, a lock, a barrier epoch). decode() checks every field against
// the limits of this job before anything uses it: a message that fails is a fatal error, never a
// write outside the unit it names. Pure functions, thread safe.
#ifndef DSM_RUNTIME_TRANSPORT_MESSAGE_HPP_
#define DSM_RUNTIME_TRANSPORT_MESSAGE_HPP_

#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>

namespace dsm::rt {

enum class inbox : std::uint8_t { engine = 0, app = 1 };

enum class msg : std::uint16_t {
  // Sequential consistency (fixed distributed manager, write-invalidate).
  read_req = 1,     // requester -> home: a read copy of unit `id`
  write_req,        // requester -> home: ownership of unit `id`
  read_fwd,         // home -> owner: send a read copy to `origin`
  write_fwd,        // home -> owner: give ownership to `origin`; arg = acks it awaits, arg2 = 1 if it has a copy
  unit_data,        // owner/home -> requester (app): grant; arg = acks to await, arg2 = total data bytes, flags = access
  invalidate,       // home -> copy holder: drop unit `id`, ack to `origin`
  inv_ack,          // copy holder -> requester (app)
  confirm,          // requester -> home: the grant of unit `id` is installed
  // Release consistency (multiple writers, twins and diffs).
  diff_push,        // releaser -> home: payload = a diff of unit `id` at byte `offset`
  diff_fwd,         // home -> copy holder: the same diff; ack to `origin`
  diff_ack,         // home or copy holder -> releaser (app); from the home, arg = copies it forwarded to
  diff_req,         // lazy release: faulting rank -> writer: payload = the intervals (u32) whose diffs of `id` it lacks
  diff_reply,       // writer -> faulting rank (app): bulk payload of [u32 interval][u32 bytes][diff]...
  // Locks (distributed FIFO queue; the token stays with the last holder).
  lock_acq,         // acquirer -> manager
  lock_fwd,         // manager -> last requester: pass the token to `origin` when done
  lock_token,       // holder -> acquirer (app)
  lock_try,         // acquirer -> manager: take the lock only if free
  lock_try_fwd,     // manager -> last requester: pass the token to `origin` if free now
  lock_try_done,    // last requester -> manager: arg = 1 if it passed the token
  lock_try_fail,    // manager -> acquirer (app)
  // Barriers and collective checks.
  // A group (the ranks of one node, or one rank) gathers in shared memory; its leader's engine
  // gathers its subtree of the tree of leaders and passes it up (sync/barrier.hpp); id = epoch.
  barrier_data,     // as barrier_arrive, before one whose arrivals do not fit in one message: bulk, those arrivals
  barrier_arrive,   // leader -> its own engine, or its engine -> its parent's (a leaf: app -> parent's engine):
                    // arg = the ranks it covers; payload (up to max_payload): their calls and model payloads
  barrier_release,  // leader's engine -> its own app, or parent's engine -> a leaf's app: bulk, the group's releases
  barrier_pass,     // leader -> a child leader's engine: bulk payload, the releases of the child's subtree
  barrier_swap,     // with two groups, leader's app -> the other leader's app: bulk, arg = the ranks it
                    // covers; its group's calls and model payloads (each leader merges both)
  // Lifecycle.
  goodbye,          // rank -> engine at finalize: no more messages from this rank
  // Entry consistency: locks with shared and exclusive modes whose grants carry the bound data.
  // arg = mode (1 shared, 2 exclusive) | 4 if a try | what to send << 8 (see entry.cpp).
  ec_acq,           // acquirer -> manager
  ec_fwd,           // manager -> a holder of the data: serve `origin`; arg2 = grants the manager sent the holder
  ec_done,          // holder -> manager: served `origin` (arg = 1) or refused a try (arg = 0); bulk: data to relay;
                    // arg = 2: not served yet, the lock is held here (tries are refused meanwhile)
  ec_grant,         // holder or manager -> acquirer (app); bulk payload: the bound data, arg = 1 if it is there
  ec_fail,          // manager -> acquirer (app): a try that would have waited
  // Decided homes (the release models, DSM_HOME=first-touch) and home-based lazy release.
  home_claim,       // first writer -> the unit's manager: make me the home of unit `id` if it has none
                    // (eager release folds it into read_req: see kClaim)
  home_is,          // manager -> claimer (app): arg = the home of unit `id`
  fetch_req,        // reader -> home: units id .. id+arg-1 (the first is missed, the rest prefetched); payload =
                    // per unit the diffs it must hold first, [u32 n][(i32 writer, u32 interval) x n]
  fetch_reply,      // home -> reader (app), bulk: [u64 unit][u32 n][(i32, u32) x n applied][u32 bytes][data]...
  home_diff,        // writer -> home, bulk: a diff of unit `id` made in the writer's interval `arg`
  // Allocation by one rank (alloc/arenas.hpp).
  arena_free,       // any rank -> the arena's owner: free the block at byte `id` of the arenas
  arena_freed,      // owner -> that rank (app): arg = 1 if the block was live and is freed, 0 if not
  // Condition variables (sync/condvars.hpp): id = the condition variable, managed by rank id % ranks.
  cv_wait,          // waiter -> manager: queue me; arg = the dsm::mutex I hold (below 2^62), arg2 = kCvTimed or kCvUntimed
  cv_queued,        // manager -> waiter (app): arg = kCvQueued, or kCvRefused: other waiters hold mutex arg2
  cv_notify,        // notifier -> manager: arg = kCvNotifyOne (the first waiter) or kCvNotifyAll
  cv_notified,      // manager -> notifier (app): arg = the waiters woken
  cv_signal,        // manager -> waiter's engine: you are woken
  cv_wake,          // waiter's engine (or wait_until's timer) -> its own application thread, once it sleeps
  cv_cancel,        // timed-out waiter -> manager: take me off the queue
  cv_cancelled,     // manager -> waiter (app): arg = kCvTakenOff, or kCvNotQueued (a cv_signal is on its way)
  finalizing,       // rank -> every engine at finalize: this rank makes no more calls (no more notifies)
  // Locks across nodes with node-local queues (sync/node_locks.hpp).
  lock_fwd_node,    // manager -> last requester: hand `origin`'s request to the last rank of your node's run
  lock_claim_fwd,   // a run's representative -> its last rank: the lock was claimed for `origin` while free (a
                    // try through the manager): pass the token, then end the claim
  kLast
};

const char* msg_name(msg m) noexcept;

// Bulk messages carry a payload of any size in fragments: arg2 = the total bytes, offset = where this
// fragment goes. Fragments from one sender arrive in order.
bool is_bulk(msg m) noexcept;

struct header {
  static constexpr std::uint32_t kMagic = 0x44534d31;  // "DSM1"
  std::uint32_t magic = kMagic;
  msg type = msg::kLast;
  inbox to = inbox::engine;
  std::uint8_t flags = 0;
  std::int32_t src = -1;     // sender rank
  std::int32_t origin = -1;  // the rank a forwarded request is for
  std::uint64_t id = 0;      // unit, lock or epoch
  std::uint64_t arg = 0;
  std::uint64_t arg2 = 0;
  std::uint32_t offset = 0;  // payload offset within the unit
  std::uint32_t length = 0;  // payload bytes after the header
};
static_assert(sizeof(header) == 48, "the header is part of the wire format");

// Header fields that carry a kind, by name (message.cpp validates them).
// unit_data, in flags: the access it grants (sequential consistency; eager release sends copies
// to read).
constexpr std::uint8_t kGrantRead = 1, kGrantWrite = 2;
// diff_ack, in flags: sent by the unit's home, which forwarded the diff to `arg` copies (eager
// release); 0: from one of those copies.
constexpr std::uint8_t kFromHome = 1;
// read_req, in flags: sent to the unit's manager by a rank that does not know its first-touch home
// yet; the manager answers with the unit if it is the home, else with home_is (eager release).
constexpr std::uint8_t kClaim = 1;
// ec_done, in arg: the holder refused a try, served the forwarded request, or holds the lock and
// keeps the request until its release (entry consistency).
constexpr std::uint64_t kEcRefused = 0, kEcServed = 1, kEcHeldHere = 2;
// Condition variables: cv_wait's arg2, the kind of wait; cv_notify's arg, whom to wake; cv_queued's
// arg, whether the manager queued the waiter; cv_cancelled's arg, whether a timed wait was still
// queued and is taken off.
constexpr std::uint64_t kCvUntimed = 0, kCvTimed = 1;
constexpr std::uint64_t kCvNotifyOne = 1, kCvNotifyAll = 2;
constexpr std::uint64_t kCvRefused = 0, kCvQueued = 1;
constexpr std::uint64_t kCvNotQueued = 0, kCvTakenOff = 1;

// The limits a message is checked against.
struct limits {
  int ranks = 1;
  std::uint64_t units = 0;
  std::uint64_t unit_size = 0;
  std::uint32_t max_payload = 0;
};

// Checks a received message (header bytes + payload). Returns nullptr if it is valid, else a
// static description of the first problem found.
const char* validate(const header& h, std::size_t payload_bytes, const limits& lim) noexcept;

// Reads a header from raw bytes (which may be unaligned); false if there are fewer than 48.
inline bool decode_header(std::span<const std::byte> bytes, header& out) noexcept {
  if (bytes.size() < sizeof(header)) return false;
  std::memcpy(&out, bytes.data(), sizeof(header));
  return true;
}

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_TRANSPORT_MESSAGE_HPP_
