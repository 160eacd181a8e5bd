// barrier.cpp: see barrier.hpp.
#include "sync/barrier.hpp"

#include <string>

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
  }
  return "an unknown collective call";
}
}  // namespace

void barrier_service::arrive(collective kind, std::uint64_t arg) {
  std::lock_guard<std::mutex> op_lock(ctx_.op_mu);
  const std::uint64_t epoch = ++epoch_;
  {
    std::lock_guard<std::mutex> g(ctx_.state_mu);
    header h{.type = msg::barrier_arrive, .to = inbox::engine, .id = epoch, .arg = static_cast<std::uint64_t>(kind), .arg2 = arg};
    ctx_.post(0, h);
  }
  app_op op;
  op.expect_a = msg::barrier_release;
  op.id = epoch;
  ctx_.wait(op, [](const app_op& o) { return o.done; });
}

void barrier_service::handle(const header& h) {
  DSM_CHECK(ctx_.rank == 0, "barrier arrival at rank %d", ctx_.rank);
  if (arrived_ == 0) root_epoch_ = h.id;
  DSM_CHECK(h.id == root_epoch_, "rank %d arrived at collective call %llu while the others are at %llu", h.src,
            static_cast<unsigned long long>(h.id), static_cast<unsigned long long>(root_epoch_));
  calls_[static_cast<size_t>(h.src)] = {h.arg, h.arg2};
  if (++arrived_ < ctx_.ranks) return;
  arrived_ = 0;
  for (int r = 1; r < ctx_.ranks; ++r) {
    const call& a = calls_[0];
    const call& b = calls_[static_cast<size_t>(r)];
    if (a.kind != b.kind || a.arg != b.arg) {
      fatal("collective calls out of step: rank 0 called %s while rank %d called %s", describe(a.kind, a.arg).c_str(), r,
            describe(b.kind, b.arg).c_str());
    }
  }
  for (int r = 0; r < ctx_.ranks; ++r) {
    header rel{.type = msg::barrier_release, .to = inbox::app, .id = root_epoch_};
    ctx_.post(r, rel);
  }
}

}  // namespace dsm::rt
