// intervals.cpp: see intervals.hpp.
#include "coherence/intervals.hpp"

#include <algorithm>
#include <map>

namespace dsm::rt {

void put_interval(wire_writer& w, const interval& iv) {
  w.put<std::int32_t>(iv.rank);
  w.put(iv.index);
  for (auto v : iv.vc) w.put(v);
  w.put(static_cast<std::uint32_t>(iv.notices.size()));
  for (const notice& n : iv.notices) {
    w.put(n.unit);
    w.put(n.home);
  }
}

interval get_interval(wire_reader& r, int ranks, std::uint64_t units) {
  interval iv;
  iv.rank = r.get<std::int32_t>();
  if (iv.rank < 0 || iv.rank >= ranks) fatal("lazy release: interval of rank %d", iv.rank);
  iv.index = r.get<std::uint32_t>();
  iv.vc.resize(static_cast<size_t>(ranks));
  for (auto& v : iv.vc) v = r.get<std::uint32_t>();
  const std::uint32_t count = r.get<std::uint32_t>();
  if (count > units) fatal("lazy release: an interval with %u write notices", count);
  iv.notices.resize(count);
  for (notice& n : iv.notices) {
    n.unit = r.get<std::uint64_t>();
    n.home = r.get<std::int32_t>();
    if (n.unit >= units) fatal("lazy release: a write notice for unit %llu", static_cast<unsigned long long>(n.unit));
    if (n.home < -1 || n.home >= ranks) fatal("lazy release: a write notice naming home %d", n.home);
  }
  return iv;
}

interval_log::interval_log(int ranks, int me)
    : n_(ranks), me_(me), vc_(static_cast<size_t>(ranks), 0), log_(static_cast<size_t>(ranks)),
      base_(static_cast<size_t>(ranks), 0) {}

const interval& interval_log::add_own(std::vector<notice> notices) {
  const auto i = static_cast<size_t>(me_);
  interval iv{me_, ++vc_[i], vc_, std::move(notices)};
  bytes_ += iv.bytes();
  log_[i].push_back(std::move(iv));
  return log_[i].back();
}

bool interval_log::learn(interval&& iv) {
  const auto i = static_cast<size_t>(iv.rank);
  if (iv.rank == me_ || iv.index <= vc_[i]) return false;
  DSM_REQUIRE(iv.index == vc_[i] + 1, "lazy release: interval %u of rank %d arrived before interval %u", iv.index, iv.rank,
              vc_[i] + 1);
  vc_[i] = iv.index;
  bytes_ += iv.bytes();
  log_[i].push_back(std::move(iv));
  return true;
}

void interval_log::put_missing(wire_writer& w, const std::vector<std::uint32_t>& theirs) const {
  for_each_missing(theirs, [&](const interval& iv) { put_interval(w, iv); });
}

const interval& interval_log::find(int r, std::uint32_t index) const {
  const auto& rl = log_[static_cast<size_t>(r)];
  const std::uint32_t base = base_[static_cast<size_t>(r)];
  if (index <= base || index > base + rl.size())
    fatal("lazy release: interval %u of rank %d, which this rank does not keep", index, r);
  return rl[index - base - 1];
}

void interval_log::clear() {
  for (int r = 0; r < n_; ++r) {
    base_[static_cast<size_t>(r)] += static_cast<std::uint32_t>(log_[static_cast<size_t>(r)].size());
    log_[static_cast<size_t>(r)].clear();
  }
  bytes_ = 0;
}

void interval_log::trim(const std::vector<std::uint32_t>& upto) {
  for (int r = 0; r < n_; ++r) {
    auto& rl = log_[static_cast<size_t>(r)];
    std::uint32_t& base = base_[static_cast<size_t>(r)];
    const std::uint32_t to = std::min(upto[static_cast<size_t>(r)], vc_[static_cast<size_t>(r)]);
    if (to <= base) continue;
    const auto drop = static_cast<std::ptrdiff_t>(to - base);
    for (auto it = rl.begin(); it != rl.begin() + drop; ++it) bytes_ -= it->bytes();
    rl.erase(rl.begin(), rl.begin() + drop);
    base = to;
  }
}

bool interval_log::consistent() const {
  for (int r = 0; r < n_; ++r) {
    const auto i = static_cast<size_t>(r);
    if (vc_[i] != base_[i] + log_[i].size()) return false;
    if (!log_[i].empty() && (log_[i].back().rank != r || log_[i].back().index != vc_[i])) return false;
  }
  return true;
}

std::vector<std::byte> barrier_arrival_of(const interval_log& log, std::uint64_t kept,
                                          const std::vector<std::uint32_t>& since) {
  wire_writer w;
  w.put<std::uint64_t>(kept);
  for (auto v : log.vc()) w.put(v);
  log.put_missing(w, since);
  return std::move(w.out);
}

std::vector<std::vector<std::byte>> merge_barrier_arrivals(const std::vector<std::vector<std::byte>>& arrivals, int ranks,
                                                           std::uint64_t units, std::uint64_t gc_bytes) {
  // The union of everybody's intervals, and for each rank what it lacks.
  std::map<std::pair<int, std::uint32_t>, std::span<const std::byte>> all;  // (rank, index) -> its bytes
  std::vector<std::vector<std::uint32_t>> vcs;
  bool collect = false;
  for (const auto& a : arrivals) {
    wire_reader r{a, 0, "barrier arrival"};
    const std::uint64_t kept = r.get<std::uint64_t>();
    collect = collect || kept > gc_bytes;
    std::vector<std::uint32_t> vc(static_cast<size_t>(ranks));
    for (auto& v : vc) v = r.get<std::uint32_t>();
    vcs.push_back(std::move(vc));
    while (!r.done()) {
      const std::size_t start = r.at;
      const interval iv = get_interval(r, ranks, units);
      all.emplace(std::make_pair(iv.rank, iv.index), std::span<const std::byte>(a).subspan(start, r.at - start));
    }
  }
  std::vector<std::vector<std::byte>> releases(arrivals.size());
  for (std::size_t s = 0; s < arrivals.size(); ++s) {
    wire_writer w;
    w.put<std::uint8_t>(collect ? 1 : 0);
    for (const auto& [key, record] : all)
      if (key.second > vcs[s][static_cast<size_t>(key.first)]) w.put_bytes(record);
    releases[s] = std::move(w.out);
  }
  return releases;
}

}  // namespace dsm::rt
