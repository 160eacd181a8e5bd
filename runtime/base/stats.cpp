// stats.cpp: see stats.hpp.
#include "base/stats.hpp"

#include <cstdio>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "base/log.hpp"

namespace dsm::rt {
namespace {
constexpr const char* kNames[] = {
#define DSM_NAME(name) #name,
    DSM_STAT_FIELDS(DSM_NAME)
#undef DSM_NAME
};
constexpr int kCount = sizeof kNames / sizeof kNames[0];
}  // namespace

dsm::statistics counters::snapshot() const noexcept {
  dsm::statistics s;
#define DSM_COPY(name) s.name = name.load(std::memory_order_relaxed);
  DSM_STAT_FIELDS(DSM_COPY)
#undef DSM_COPY
  return s;
}

void report_stats(const counters& c, MPI_Comm comm, bool table, const std::string& path, const std::string& model) {
  int rank = 0, size = 1;
  MPI_Comm_rank(comm, &rank);
  MPI_Comm_size(comm, &size);
  std::uint64_t mine[kCount];
  int i = 0;
#define DSM_FILL(name) mine[i++] = c.name.load(std::memory_order_relaxed);
  DSM_STAT_FIELDS(DSM_FILL)
#undef DSM_FILL
  std::vector<std::uint64_t> all(rank == 0 ? static_cast<size_t>(kCount) * size : 0);
  MPI_Gather(mine, kCount, MPI_UINT64_T, all.data(), kCount, MPI_UINT64_T, 0, comm);
  if (rank != 0) return;
  std::vector<std::uint64_t> total(kCount, 0);
  for (int r = 0; r < size; ++r)
    for (int k = 0; k < kCount; ++k) total[k] += all[static_cast<size_t>(r) * kCount + k];

  if (table) {
    std::printf("dsm stats (model %s, %d ranks)\n%-22s", model.c_str(), size, "counter");
    for (int r = 0; r < size; ++r) std::printf(" %12s", ("rank " + std::to_string(r)).c_str());
    std::printf(" %14s\n", "total");
    for (int k = 0; k < kCount; ++k) {
      std::printf("%-22s", kNames[k]);
      for (int r = 0; r < size; ++r) std::printf(" %12llu", static_cast<unsigned long long>(all[static_cast<size_t>(r) * kCount + k]));
      std::printf(" %14llu\n", static_cast<unsigned long long>(total[k]));
    }
    std::fflush(stdout);
  }
  if (!path.empty()) {
    // {"model": ..., "ranks": N, "per_rank": [{"rank": 0, <counter>: n, ...}, ...], "total": {<counter>: n, ...}},
    // counters in the order of DSM_STAT_FIELDS, written by nlohmann-json.
    nlohmann::ordered_json doc = {{"model", model}, {"ranks", size}, {"per_rank", nlohmann::ordered_json::array()}};
    for (int r = 0; r < size; ++r) {
      nlohmann::ordered_json row = {{"rank", r}};
      for (int k = 0; k < kCount; ++k) row[kNames[k]] = all[static_cast<size_t>(r) * kCount + k];
      doc["per_rank"].push_back(std::move(row));
    }
    nlohmann::ordered_json& sum = doc["total"] = nlohmann::ordered_json::object();
    for (int k = 0; k < kCount; ++k) sum[kNames[k]] = total[k];
    const std::string text = doc.dump(2, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
    FILE* f = std::fopen(path.c_str(), "w");
    if (f == nullptr) {
      log(log_level::error, "DSM_STATS: cannot write '%s'", path.c_str());
      return;
    }
    const bool ok = std::fwrite(text.data(), 1, text.size(), f) == text.size();
    if (std::fclose(f) != 0 || !ok) log(log_level::error, "DSM_STATS: writing '%s' failed", path.c_str());
  }
}

}  // namespace dsm::rt
