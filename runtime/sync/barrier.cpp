// barrier.cpp: see barrier.hpp.
#include "sync/barrier.hpp"

#include <cstdio>
#include <cstring>
#include <new>
#include <string>

#include "coherence/protocol.hpp"

#include "core/log.hpp"

namespace dsm::rt {
namespace {
std::string describe(std::uint64_t kind, std::uint64_t arg) {
  switch (static_cast<collective>(kind)) {
    case collective::barrier: return "dsm::barrier()";
    case collective::alloc: return "dsm::alloc(" + std::to_string(arg) + " bytes)";
    case collective::free:
      return arg == kForeignPointer ? "dsm::free(a pointer dsm::alloc did not return)"
                                    : "dsm::free(offset " + std::to_string(arg) + " of the global space)";
    case collective::finalize: return "dsm::finalize()";
    case collective::destroy:
      return arg == kLockHeld ? "dsm::destroy(an object whose lock it holds)"
                              : "dsm::destroy(the object of lock " + std::to_string(arg) + ")";
    case collective::bind: {
      char sum[32];
      std::snprintf(sum, sizeof sum, "%016llx", static_cast<unsigned long long>(arg));
      return std::string("dsm::mutex::bind (lock, address and size hash to ") + sum + ")";
    }
  }
  return "an unknown collective call";
}

// Ends the job if the calls of the ranks (by rank) do not agree.
void check_calls(const std::vector<barrier_service::call>& calls) {
  for (std::size_t r = 1; r < calls.size(); ++r) {
    const barrier_service::call& a = calls[0];
    const barrier_service::call& b = calls[r];
    if (a.kind != b.kind || a.arg != b.arg) {
      fatal("collective calls out of step: rank 0 called %s while rank %zu called %s", describe(a.kind, a.arg).c_str(), r,
            describe(b.kind, b.arg).c_str());
    }
  }
}
}  // namespace

std::vector<std::byte> barrier_service::arrive(collective kind, std::uint64_t arg, std::span<const std::byte> payload) {
  std::lock_guard<runtime_mutex> op_lock(ctx_.op_mu);
  const std::uint64_t epoch = ++epoch_;
  if (node_) return arrive_on_node(kind, arg, payload, epoch);
  // Through rank 0's engine inbox, rank 0's own arrival too, and not under state_mu: the last
  // arrival sends every release, which on rank 0's application thread could fill its own inbox
  // with nobody to empty it; and a large payload may wait for room while this rank's engine must
  // go on serving.
  if (!payload.empty()) {
    header d{.type = msg::barrier_data, .to = inbox::engine, .id = epoch};
    ctx_.post_bulk(0, d, payload);
  }
  header h{.type = msg::barrier_arrive, .to = inbox::engine, .id = epoch, .arg = static_cast<std::uint64_t>(kind), .arg2 = arg};
  ctx_.check_outgoing(0, h, 0);
  ctx_.net->send(0, h);
  app_op op;
  op.expect_a = msg::barrier_release;
  op.id = epoch;
  ctx_.wait(op, [](const app_op& o) { return o.done; });
  return std::move(op.payload);
}

void barrier_service::handle(const header& h, std::span<const std::byte> payload) {
  DSM_REQUIRE(ctx_.rank == 0, "barrier message at rank %d", ctx_.rank);
  if (h.type == msg::barrier_data) {
    std::vector<std::byte>& a = arrivals_[static_cast<size_t>(h.src)];
    if (h.offset == 0) {
      try {  // up to 4 GiB (validate()): out of memory is a fatal error, not an exception in the engine
        a.assign(h.arg2, std::byte{0});
      } catch (const std::bad_alloc&) {
        fatal("no memory for barrier data of %llu bytes from rank %d", static_cast<unsigned long long>(h.arg2), h.src);
      }
    }
    DSM_REQUIRE(a.size() == h.arg2 && h.offset + payload.size() <= a.size(), "barrier data from rank %d out of order", h.src);
    if (!payload.empty()) std::memcpy(a.data() + h.offset, payload.data(), payload.size());
    return;
  }
  if (arrived_ == 0) root_epoch_ = h.id;
  DSM_REQUIRE(h.id == root_epoch_, "rank %d arrived at collective call %llu while the others are at %llu", h.src,
            static_cast<unsigned long long>(h.id), static_cast<unsigned long long>(root_epoch_));
  calls_[static_cast<size_t>(h.src)] = {h.arg, h.arg2};
  if (++arrived_ < ctx_.ranks) return;
  arrived_ = 0;
  check_calls(calls_);
  std::vector<std::vector<std::byte>> releases;
  if (calls_[0].kind == static_cast<std::uint64_t>(collective::barrier) && calls_[0].arg == 0) {
    releases = ctx_.proto->barrier_merge(arrivals_);
  }
  for (auto& a : arrivals_) a.clear();
  for (int r = 0; r < ctx_.ranks; ++r) {
    header rel{.type = msg::barrier_release, .to = inbox::app, .id = root_epoch_};
    if (releases.empty()) ctx_.post_bulk(r, rel, {});
    else ctx_.post_bulk(r, rel, releases[static_cast<size_t>(r)]);
  }
}

std::vector<std::byte> barrier_service::arrive_on_node(collective kind, std::uint64_t arg, std::span<const std::byte> payload,
                                                       std::uint64_t epoch) {
  if (!node_->arrive({epoch, static_cast<std::uint64_t>(kind), arg}, payload)) {
    node_->wait();
    return node_->my_release();
  }
  // The last to arrive does what rank 0's engine does on the message path.
  for (int r = 0; r < ctx_.ranks; ++r) {
    const node_barrier::call c = node_->call_of(r);
    if (c.epoch != epoch) {
      fatal("rank %d arrived at collective call %llu while the others are at %llu", r, static_cast<unsigned long long>(c.epoch),
            static_cast<unsigned long long>(epoch));
    }
    calls_[static_cast<size_t>(r)] = {c.kind, c.arg};
  }
  check_calls(calls_);
  std::vector<std::vector<std::byte>> releases;
  if (kind == collective::barrier && arg == 0) {
    for (int r = 0; r < ctx_.ranks; ++r) {
      const std::span<const std::byte> a = node_->arrival_of(r);
      arrivals_[static_cast<size_t>(r)].assign(a.begin(), a.end());
    }
    std::lock_guard<runtime_mutex> g(ctx_.state_mu);
    releases = ctx_.proto->barrier_merge(arrivals_);
  }
  for (auto& a : arrivals_) a.clear();
  node_->release(releases);
  return node_->my_release();
}

}  // namespace dsm::rt
