// intervals.hpp: the intervals, vector times and write notices that both lazy-release protocols
// keep (lazy_release.cpp: homeless, TreadMarks; home_lazy_release.cpp: home-based, HLRC), and their
// wire form in lock requests, tokens and barriers.
//
// A rank's execution is cut into intervals; interval i of rank r carries the vector time r had when
// it closed it and its write notices: the units r wrote in it (and, home-based, each unit's home).
// The log keeps, per rank, the intervals this rank knows that are newer than what every rank is
// known to hold (after a barrier, nothing older is ever asked for again). Not thread safe: the
// caller holds state_mu.
#ifndef DSM_RUNTIME_COHERENCE_INTERVALS_HPP_
#define DSM_RUNTIME_COHERENCE_INTERVALS_HPP_

#include <cstdint>
#include <cstring>
#include <span>
#include <vector>

#include "base/log.hpp"
#include "transport/wire.hpp"

namespace dsm::rt {

// "This interval wrote unit `unit`, whose home is `home`" (-1: the homeless protocol has none).
struct notice {
  std::uint64_t unit;
  std::int32_t home;
};

struct interval {
  int rank = 0;
  std::uint32_t index = 0;
  std::vector<std::uint32_t> vc;
  std::vector<notice> notices;
  // The sum of the vector time: an order of intervals consistent with happens-before.
  std::uint64_t weight() const {
    std::uint64_t s = 0;
    for (auto v : vc) s += v;
    return s;
  }
  std::uint64_t bytes() const { return 16 + vc.size() * 4 + notices.size() * 12; }
};

void put_interval(wire_writer& w, const interval& iv);
// Checks every field against the job: ranks, units, homes.
interval get_interval(wire_reader& r, int ranks, std::uint64_t units);

class interval_log {
 public:
  interval_log(int ranks, int me);

  const std::vector<std::uint32_t>& vc() const { return vc_; }
  // Closes this rank's next interval with these notices and returns it.
  const interval& add_own(std::vector<notice> notices);
  // Another rank's interval; false if this rank knew it already. Intervals of a rank must come in
  // order (a gap is a fatal error).
  bool learn(interval&& iv);
  // Every interval kept here that a rank with vector time `theirs` has not seen.
  void put_missing(wire_writer& w, const std::vector<std::uint32_t>& theirs) const;
  template <class Fn>
  void for_each_missing(const std::vector<std::uint32_t>& theirs, Fn&& fn) const {
    for (int r = 0; r < n_; ++r) {
      const auto& rl = log_[static_cast<size_t>(r)];
      const std::uint32_t base = base_[static_cast<size_t>(r)];
      const std::uint32_t from = theirs[static_cast<size_t>(r)] > base ? theirs[static_cast<size_t>(r)] : base;
      for (std::uint32_t i = from; i < base + rl.size(); ++i) fn(rl[i - base]);
    }
  }
  const interval& find(int r, std::uint32_t index) const;
  // Drops every interval: all of them have been applied everywhere (homeless garbage collection).
  void clear();
  // Drops the intervals up to `upto` (every rank knows them: a barrier has just passed).
  void trim(const std::vector<std::uint32_t>& upto);
  std::uint64_t bytes() const { return bytes_; }
  // vc_[r] is the last interval of rank r known here, and the log holds exactly base_[r] + 1 ..
  // vc_[r]. O(ranks); for DSM_INVARIANT.
  bool consistent() const;

 private:
  int n_;
  int me_;
  std::vector<std::uint32_t> vc_;
  std::vector<std::vector<interval>> log_;  // log_[r][k] is interval base_[r] + k + 1 of rank r
  std::vector<std::uint32_t> base_;         // intervals up to here were dropped
  std::uint64_t bytes_ = 0;
};

// The barrier payloads of both protocols. An arrival is [u64 bytes kept][vector time][the intervals
// newer than `since`, what every rank knew at the last barrier]; the merging rank (protocol.hpp)
// answers each rank with [u8 collect][the intervals it lacks], collect = 1 when a rank keeps more
// than gc_bytes (the homeless protocol's garbage collection; the home-based one reports 0).
std::vector<std::byte> barrier_arrival_of(const interval_log& log, std::uint64_t kept,
                                          const std::vector<std::uint32_t>& since);
std::vector<std::vector<std::byte>> merge_barrier_arrivals(const std::vector<std::vector<std::byte>>& arrivals, int ranks,
                                                           std::uint64_t units, std::uint64_t gc_bytes);

}  // namespace dsm::rt

#endif  // DSM_RUNTIME_COHERENCE_INTERVALS_HPP_
