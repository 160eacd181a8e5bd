// jitter.hpp: a few microseconds of random delay, so that the threads of a litmus program start
// their accesses at varying offsets. A bounded loop on an xorshift generator: nothing waits on
// anything. Used by runner.cpp (dsm-litmus and the litmus gtests).
#ifndef DSM_TOOLS_LITMUS_JITTER_HPP_
#define DSM_TOOLS_LITMUS_JITTER_HPP_

#include <cstdint>

namespace litmus {

class jitter {
 public:
  // state: the generator's starting state; any value but 0. Each call spins `base` iterations
  // plus a random number below `spread`.
  explicit jitter(std::uint64_t state, std::uint64_t base = 0, std::uint64_t spread = 20000)
      : state_(state), base_(base), spread_(spread) {}
  void operator()() {
    state_ ^= state_ << 13;
    state_ ^= state_ >> 7;
    state_ ^= state_ << 17;
    const std::uint64_t spins = base_ + state_ % spread_;
    for (std::uint64_t i = 0; i < spins; ++i) sink_ = sink_ + 1;
  }

 private:
  std::uint64_t state_;
  std::uint64_t base_;
  std::uint64_t spread_;
  volatile std::uint64_t sink_ = 0;
};

}  // namespace litmus

#endif  // DSM_TOOLS_LITMUS_JITTER_HPP_
