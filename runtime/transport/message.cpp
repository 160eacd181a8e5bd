// message.cpp: message names and validation; see message.hpp.
#include "transport/message.hpp"

namespace dsm::rt {

const char* msg_name(msg m) noexcept {
  switch (m) {
    case msg::read_req: return "read_req";
    case msg::write_req: return "write_req";
    case msg::read_fwd: return "read_fwd";
    case msg::write_fwd: return "write_fwd";
    case msg::unit_data: return "unit_data";
    case msg::invalidate: return "invalidate";
    case msg::inv_ack: return "inv_ack";
    case msg::confirm: return "confirm";
    case msg::diff_push: return "diff_push";
    case msg::diff_fwd: return "diff_fwd";
    case msg::diff_ack: return "diff_ack";
    case msg::diff_req: return "diff_req";
    case msg::diff_reply: return "diff_reply";
    case msg::barrier_data: return "barrier_data";
    case msg::lock_acq: return "lock_acq";
    case msg::lock_fwd: return "lock_fwd";
    case msg::lock_token: return "lock_token";
    case msg::lock_try: return "lock_try";
    case msg::lock_try_fwd: return "lock_try_fwd";
    case msg::lock_try_done: return "lock_try_done";
    case msg::lock_try_fail: return "lock_try_fail";
    case msg::barrier_arrive: return "barrier_arrive";
    case msg::barrier_release: return "barrier_release";
    case msg::barrier_pass: return "barrier_pass";
    case msg::barrier_swap: return "barrier_swap";
    case msg::goodbye: return "goodbye";
    case msg::ec_acq: return "ec_acq";
    case msg::ec_fwd: return "ec_fwd";
    case msg::ec_done: return "ec_done";
    case msg::ec_grant: return "ec_grant";
    case msg::ec_fail: return "ec_fail";
    case msg::home_claim: return "home_claim";
    case msg::home_is: return "home_is";
    case msg::fetch_req: return "fetch_req";
    case msg::fetch_reply: return "fetch_reply";
    case msg::home_diff: return "home_diff";
    case msg::arena_free: return "arena_free";
    case msg::arena_freed: return "arena_freed";
    case msg::cv_wait: return "cv_wait";
    case msg::cv_queued: return "cv_queued";
    case msg::cv_notify: return "cv_notify";
    case msg::cv_notified: return "cv_notified";
    case msg::cv_signal: return "cv_signal";
    case msg::cv_wake: return "cv_wake";
    case msg::cv_cancel: return "cv_cancel";
    case msg::cv_cancelled: return "cv_cancelled";
    case msg::finalizing: return "finalizing";
    case msg::lock_fwd_node: return "lock_fwd_node";
    case msg::lock_claim_fwd: return "lock_claim_fwd";
    case msg::kLast: break;
  }
  return "unknown";
}

bool is_bulk(msg m) noexcept {
  return m == msg::lock_token || m == msg::barrier_release || m == msg::barrier_data || m == msg::barrier_pass ||
         m == msg::barrier_swap || m == msg::diff_reply ||
         m == msg::ec_done || m == msg::ec_grant || m == msg::fetch_reply || m == msg::home_diff;
}

namespace {
// Which inbox each type must arrive at, and whether it names a unit / an origin / carries unit
// data / carries a diff.
struct rule {
  inbox to;
  bool unit;
  bool origin;
  bool data;
  bool diff = false;
  bool small = false;  // may carry up to max_payload bytes of model data (a vector time, a list)
};

bool rule_of(msg m, rule& r) noexcept {
  switch (m) {
    case msg::read_req: case msg::write_req: case msg::confirm: r = {inbox::engine, true, false, false}; return true;
    case msg::read_fwd: case msg::write_fwd: case msg::invalidate: r = {inbox::engine, true, true, false}; return true;
    case msg::unit_data: r = {inbox::app, true, false, true}; return true;
    case msg::inv_ack: r = {inbox::app, true, false, false}; return true;
    case msg::diff_push: r = {inbox::engine, true, false, false, true}; return true;
    case msg::diff_fwd: r = {inbox::engine, true, true, false, true}; return true;
    case msg::diff_ack: r = {inbox::app, true, false, false}; return true;
    case msg::diff_req: r = {inbox::engine, true, false, false, false, true}; return true;
    case msg::diff_reply: r = {inbox::app, true, false, false}; return true;
    case msg::barrier_data: case msg::barrier_pass: r = {inbox::engine, false, false, false}; return true;
    case msg::lock_acq: case msg::lock_try: case msg::lock_fwd: case msg::lock_try_fwd: case msg::lock_fwd_node:
    case msg::lock_claim_fwd:
      r = {inbox::engine, false, true, false, false, true}; return true;
    case msg::lock_try_done: r = {inbox::engine, false, true, false}; return true;
    case msg::lock_token: case msg::lock_try_fail: case msg::barrier_release: case msg::barrier_swap:
      r = {inbox::app, false, false, false}; return true;
    case msg::barrier_arrive: r = {inbox::engine, false, false, false, false, true}; return true;
    case msg::goodbye: r = {inbox::engine, false, false, false}; return true;
    case msg::ec_acq: case msg::ec_fwd: case msg::ec_done: r = {inbox::engine, false, true, false}; return true;
    case msg::ec_grant: case msg::ec_fail: r = {inbox::app, false, false, false}; return true;
    case msg::home_claim: case msg::home_diff: r = {inbox::engine, true, false, false}; return true;
    case msg::home_is: case msg::fetch_reply: r = {inbox::app, true, false, false}; return true;
    case msg::fetch_req: r = {inbox::engine, true, false, false, false, true}; return true;
    case msg::arena_free: r = {inbox::engine, false, false, false}; return true;
    case msg::arena_freed: r = {inbox::app, false, false, false}; return true;
    case msg::cv_wait: case msg::cv_notify: case msg::cv_signal: case msg::cv_cancel: case msg::finalizing:
      r = {inbox::engine, false, false, false}; return true;
    case msg::cv_queued: case msg::cv_notified: case msg::cv_wake: case msg::cv_cancelled:
      r = {inbox::app, false, false, false}; return true;
    case msg::kLast: break;
  }
  return false;
}
}  // namespace

const char* validate(const header& h, std::size_t payload_bytes, const limits& lim) noexcept {
  if (h.magic != header::kMagic) return "bad magic";
  rule r;
  if (!rule_of(h.type, r)) return "unknown message type";
  if (h.to != r.to) return "message sent to the wrong inbox";
  if (h.src < 0 || h.src >= lim.ranks) return "sender rank out of range";
  if (r.origin && (h.origin < 0 || h.origin >= lim.ranks)) return "origin rank out of range";
  if (r.unit && h.id >= lim.units) return "unit number out of range";
  if (h.length != payload_bytes) return "payload length does not match the header";
  if (is_bulk(h.type)) {
    if (h.length > lim.max_payload) return "bulk fragment larger than the transport allows";
    if (h.arg2 > (std::uint64_t{1} << 32)) return "bulk payload over 4 GiB";
    if (static_cast<std::uint64_t>(h.offset) + h.length > h.arg2) return "bulk fragment outside its payload";
    if (h.length == 0 && h.arg2 != 0) return "empty bulk fragment";
  } else if (r.small) {
    if (h.length > lim.max_payload) return "payload larger than the transport allows";
  } else if (!r.data && !r.diff && h.length != 0) {
    return "unexpected payload";
  }
  if (r.diff) {
    // The runs themselves are checked by diff_apply against the span they name.
    if (h.length == 0 || h.length > lim.max_payload) return "bad diff length";
    if (h.offset >= lim.unit_size || h.arg2 == 0 || h.arg2 > lim.unit_size - h.offset) return "diff span outside the unit";
  }
  if (h.type == msg::diff_ack && h.arg > static_cast<std::uint64_t>(lim.ranks)) return "more forwards than ranks";
  if (h.type == msg::home_is && h.arg >= static_cast<std::uint64_t>(lim.ranks)) return "home rank out of range";
  if ((h.type == msg::barrier_arrive || h.type == msg::barrier_swap) && (h.arg == 0 || h.arg > static_cast<std::uint64_t>(lim.ranks)))
    return "barrier arrival of no ranks or more than the job has";
  if (h.type == msg::arena_freed && h.arg > 1) return "bad answer to a free";
  if (h.type == msg::fetch_req && (h.arg == 0 || h.arg > 64 || h.arg > lim.units - h.id)) return "fetch of units out of range";
  if (h.type == msg::cv_wait && h.arg >= (std::uint64_t{1} << 62)) return "the mutex of a wait is an object's lock";
  if (h.type == msg::cv_wait && h.arg2 != kCvTimed && h.arg2 != kCvUntimed) return "bad kind of wait";
  if ((h.type == msg::cv_queued || h.type == msg::cv_cancelled) && h.arg > 1) return "bad answer to a wait";
  if (h.type == msg::cv_notify && h.arg != kCvNotifyOne && h.arg != kCvNotifyAll) return "bad notify kind";
  if (h.type == msg::cv_notified && h.arg > static_cast<std::uint64_t>(lim.ranks)) return "more waiters woken than ranks";
  if (r.data) {
    if (h.length > lim.max_payload) return "payload larger than the transport allows";
    if (h.arg2 > lim.unit_size) return "data total larger than a unit";
    if (static_cast<std::uint64_t>(h.offset) + h.length > h.arg2) return "payload outside the unit";
    if (h.flags != kGrantRead && h.flags != kGrantWrite) return "bad access in a grant";
    if (h.arg > static_cast<std::uint64_t>(lim.ranks)) return "more acknowledgements than ranks";
  }
  return nullptr;
}

}  // namespace dsm::rt
