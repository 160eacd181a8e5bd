// context.cpp: message posting, the engine thread and the application thread's wait; see context.hpp.
#include "engine/context.hpp"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <new>
#include <thread>

#include "base/invariant.hpp"
#include "base/log.hpp"

namespace dsm::rt {

context* g_ctx = nullptr;
thread_local int runtime_mutex::held_ = 0;
thread_local int runtime_mutex::waiting_ = 0;

void context::check_outgoing(int dest, header h, std::size_t payload_bytes) const {
  if (!invariant_checks()) return;
  // What the receiver will check, checked here too, so that a bad message is reported by the rank
  // that made it, with its destination.
  h.src = rank;
  h.length = static_cast<std::uint32_t>(payload_bytes);
  DSM_INVARIANT(dest >= 0 && dest < ranks, "%s to rank %d of %d", msg_name(h.type), dest, ranks);
  const char* why = validate(h, payload_bytes, lim);
  DSM_INVARIANT(why == nullptr, "sending an invalid %s (unit/lock %llu) to rank %d: %s", msg_name(h.type),
                static_cast<unsigned long long>(h.id), dest, why);
}

void context::post(int dest, header h, std::span<const std::byte> payload, bool wake) {
  check_outgoing(dest, h, payload.size());
  if (dest == rank && h.to == inbox::engine) {
    h.src = rank;
    h.length = static_cast<std::uint32_t>(payload.size());
    local_.emplace_back(h, std::vector<std::byte>(payload.begin(), payload.end()));
    if (!draining_) drain_local();
    return;
  }
  net->send(dest, h, payload, wake);
}

namespace {

// Calls send(piece's header, piece) for each piece of at most `chunk` bytes of payload (one, if it
// is empty), each header carrying the whole size (arg2) and where the piece starts (offset).
template <class Send>
void for_each_piece(header h, std::span<const std::byte> payload, std::size_t chunk, Send&& send) {
  h.arg2 = payload.size();
  std::size_t off = 0;
  do {
    const std::size_t n = std::min(chunk, payload.size() - off);
    h.offset = static_cast<std::uint32_t>(off);
    send(h, payload.subspan(off, n));
    off += n;
  } while (off < payload.size());
}

}  // namespace

void context::post_bulk(int dest, header h, std::span<const std::byte> payload) {
  for_each_piece(h, payload, net->max_payload(), [&](const header& piece, std::span<const std::byte> bytes) {
    check_outgoing(dest, piece, bytes.size());
    net->send(dest, piece, bytes);
  });
}

void context::post_pieces(int dest, header h, std::span<const std::byte> payload, std::size_t chunk) {
  for_each_piece(h, payload, chunk,
                 [&](const header& piece, std::span<const std::byte> bytes) { post(dest, piece, bytes); });
}

void context::drain_local() {
  draining_ = true;
  while (!local_.empty()) {
    auto [h, payload] = std::move(local_.front());
    local_.pop_front();
    dispatch(h, payload);
  }
  draining_ = false;
}

void context::handle_requests(std::initializer_list<msg> types, const request_handler& handler) {
  for (const msg t : types) requests_.at(static_cast<std::size_t>(t)) = handler;
}

void context::handle_replies(std::initializer_list<msg> types, const reply_handler& handler) {
  for (const msg t : types) replies_.at(static_cast<std::size_t>(t)) = handler;
}

void context::dispatch(const header& h, std::span<const std::byte> payload) {
  if (h.type == msg::goodbye) {
    ++goodbyes_;
    return;
  }
  const request_handler* handler = h.type < msg::kLast ? &requests_[static_cast<std::size_t>(h.type)] : nullptr;
  if (handler == nullptr || !*handler) fatal("engine: %s from rank %d is not an engine message", msg_name(h.type), h.src);
  (*handler)(h, payload);
}

void context::handle_engine(const header& h, std::span<const std::byte> payload) {
  if (const char* why = validate(h, payload.size(), lim)) {
    fatal("invalid message from rank %d (%s, unit/lock %llu): %s", h.src, msg_name(h.type),
          static_cast<unsigned long long>(h.id), why);
  }
  std::lock_guard<runtime_mutex> g(state_mu);
  dispatch(h, payload);
  drain_local();
}

namespace {
bool belongs(const app_op& op, const header& h) {
  return (h.type == op.expect_a || h.type == op.expect_b || h.type == op.expect_c) && (h.id == op.id || op.any_id);
}
}  // namespace

void context::receive_app(app_op& op) {
  net->receive(inbox::app, [&](const header& h, std::span<const std::byte> payload) {
    if (const char* why = validate(h, payload.size(), lim)) {
      fatal("invalid reply from rank %d (%s, unit/lock %llu): %s", h.src, msg_name(h.type),
            static_cast<unsigned long long>(h.id), why);
    }
    if (h.type == msg::barrier_swap && !belongs(op, h)) {
      if (!early_.empty() && early_.front().first.id != h.id) {
        fatal("barrier arrivals of rank %d for call %llu while those for call %llu wait", h.src,
              static_cast<unsigned long long>(h.id), static_cast<unsigned long long>(early_.front().first.id));
      }
      early_.emplace_back(h, std::vector<std::byte>(payload.begin(), payload.end()));
      return;
    }
    take_reply(op, h, payload);
  });
}

void context::take_early(app_op& op) {
  while (!early_.empty() && belongs(op, early_.front().first)) {
    const auto [h, payload] = std::move(early_.front());
    early_.pop_front();
    take_reply(op, h, payload);
  }
}

void context::take_reply(app_op& op, const header& h, std::span<const std::byte> payload) {
  // (payload may be replaced below by a completed bulk payload)
  if (!belongs(op, h)) {
    fatal("reply %s for %llu from rank %d while waiting for %s on %llu", msg_name(h.type),
          static_cast<unsigned long long>(h.id), h.src, msg_name(op.expect_a), static_cast<unsigned long long>(op.id));
  }
  if (is_bulk(h.type)) {
    std::optional<std::vector<std::byte>> whole = op.bulk.add(h, payload);
    if (!whole) return;
    op.payload = std::move(*whole);
    op.from = h.src;
    payload = op.payload;
  }
  const reply_handler* handler = h.type < msg::kLast ? &replies_[static_cast<std::size_t>(h.type)] : nullptr;
  if (handler == nullptr || !*handler) fatal("reply %s is not an application message", msg_name(h.type));
  (*handler)(op, h, payload);
}

void context::start_engine() {
  // The program's signals are for its own thread: a handler run on the engine thread that touched
  // shared memory would wait for the engine it stopped. The thread starts with every signal blocked.
  sigset_t all, previous;
  sigfillset(&all);
  pthread_sigmask(SIG_SETMASK, &all, &previous);
  engine_ = std::thread([this] {
    if (place.bind && !node->bind_thread(place.engine_cpus)) {
      const int err = errno;
      DSM_LOG(warn, "could not bind the engine thread to PU %s: %s", cpu_list_string(place.engine_cpus).c_str(),
              std::strerror(err));
    }
    while (goodbyes_ < ranks) {
      net->receive(inbox::engine, [&](const header& h, std::span<const std::byte> payload) { handle_engine(h, payload); });
    }
    // What this rank sent may still wait for ring space; the other engines receive until they have
    // our goodbye, which is among it or behind it.
    while (!net->send_waiting()) std::this_thread::sleep_for(std::chrono::microseconds(200));
  });
  pthread_sigmask(SIG_SETMASK, &previous, nullptr);
}

void context::stop_engine() {
  // Every rank tells every engine it is done; an engine ends when it has heard from all. Messages
  // between two ranks arrive in order, so nothing sent before a goodbye is left unhandled.
  // Our own goodbye goes last, through the inbox, so that the engine wakes up, and only after every
  // other goodbye has been sent (or waits for ring space, which keeps the engine going).
  for (int i = 1; i <= ranks; ++i) {
    header bye{.type = msg::goodbye, .to = inbox::engine};
    net->send((rank + i) % ranks, bye);
  }
  if (engine_.joinable()) engine_.join();
}

}  // namespace dsm::rt
