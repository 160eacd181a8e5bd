// context.cpp: message posting, the engine thread and the application thread's wait; see context.hpp.
#include "core/context.hpp"

#include "coherence/protocol.hpp"
#include "core/log.hpp"
#include "sync/barrier.hpp"
#include "sync/locks.hpp"

namespace dsm::rt {

context* g_ctx = nullptr;

void context::post(int dest, header h, std::span<const std::byte> payload, bool wake) {
  if (dest == rank && h.to == inbox::engine) {
    DSM_CHECK(payload.empty(), "a message with data for this rank's own engine");
    h.src = rank;
    local_.push_back(h);
    if (!draining_) drain_local();
    return;
  }
  net->send(dest, h, payload, wake);
}

void context::drain_local() {
  draining_ = true;
  while (!local_.empty()) {
    header h = local_.front();
    local_.pop_front();
    dispatch(h, {});
  }
  draining_ = false;
}

void context::dispatch(const header& h, std::span<const std::byte> payload) {
  switch (h.type) {
    case msg::read_req: case msg::write_req: case msg::read_fwd: case msg::write_fwd:
    case msg::invalidate: case msg::confirm: case msg::diff_push: case msg::diff_fwd:
      proto->handle(h, payload);
      break;
    case msg::lock_acq: case msg::lock_fwd: case msg::lock_try: case msg::lock_try_fwd: case msg::lock_try_done:
      locks->handle(h);
      break;
    case msg::barrier_arrive:
      barriers->handle(h);
      break;
    case msg::goodbye:
      ++goodbyes_;
      break;
    default:
      fatal("engine: %s from rank %d is not an engine message", msg_name(h.type), h.src);
  }
}

void context::handle_engine(const header& h, std::span<const std::byte> payload) {
  if (const char* why = validate(h, payload.size(), lim)) {
    fatal("invalid message from rank %d (%s, unit/lock %llu): %s", h.src, msg_name(h.type),
          static_cast<unsigned long long>(h.id), why);
  }
  DSM_LOG(debug, "engine: %s from %d id %llu", msg_name(h.type), h.src, static_cast<unsigned long long>(h.id));
  std::lock_guard<std::mutex> g(state_mu);
  dispatch(h, payload);
  drain_local();
}

void context::receive_app(app_op& op) {
  net->receive(inbox::app, [&](const header& h, std::span<const std::byte> payload) {
    if (const char* why = validate(h, payload.size(), lim)) {
      fatal("invalid reply from rank %d (%s, unit/lock %llu): %s", h.src, msg_name(h.type),
            static_cast<unsigned long long>(h.id), why);
    }
    if ((h.type != op.expect_a && h.type != op.expect_b && h.type != op.expect_c) || (h.id != op.id && !op.any_id)) {
      fatal("reply %s for %llu from rank %d while waiting for %s on %llu", msg_name(h.type),
            static_cast<unsigned long long>(h.id), h.src, msg_name(op.expect_a), static_cast<unsigned long long>(op.id));
    }
    switch (h.type) {
      case msg::unit_data: case msg::inv_ack: case msg::diff_ack: proto->handle_reply(op, h, payload); break;
      case msg::lock_token: case msg::lock_try_fail: locks->handle_reply(op, h); break;
      case msg::barrier_release: op.done = true; break;
      default: fatal("reply %s is not an application message", msg_name(h.type));
    }
  });
}

void context::start_engine() {
  engine_ = std::thread([this] {
    while (goodbyes_ < ranks) {
      net->receive(inbox::engine, [&](const header& h, std::span<const std::byte> payload) { handle_engine(h, payload); });
    }
  });
}

void context::stop_engine() {
  // Every rank tells every engine it is done; an engine ends when it has heard from all. Messages
  // between two ranks arrive in order, so nothing sent before a goodbye is left unhandled.
  for (int r = 0; r < ranks; ++r) {
    header bye{.type = msg::goodbye, .to = inbox::engine};
    net->send(r, bye);  // our own too goes through the inbox, so that the engine wakes up
  }
  if (engine_.joinable()) engine_.join();
}

}  // namespace dsm::rt
