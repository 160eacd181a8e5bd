// gc_test: a long run of acquire / write a whole unit / release, with a barrier every few rounds,
// keeps the memory the protocol holds (twins, diffs, write notices) bounded: under lazy release
// the barriers collect garbage once it passes DSM_GC_BYTES (set low here), so a runtime whose
// collection stopped working fails this test. The counter protected by the lock must be exact.
#include <cstdint>
#include <algorithm>
#include <mutex>

#include "mpi_test.hpp"

namespace {
using dsm_test::collective;

constexpr int kRounds = 1500;
constexpr int kBarrierEvery = 25;
// DSM_GC_BYTES is 256K for this test; without collection the diffs alone would pass 6 MiB.
constexpr std::uint64_t kBound = std::uint64_t{2} << 20;

TEST_F(collective, protocol_memory_stays_bounded_over_a_long_run) {
  const std::size_t words = dsm::unit_size() / sizeof(std::uint64_t);
  std::uint64_t* data = dsm::alloc<std::uint64_t>(words);  // one unit, rewritten whole each time
  std::uint64_t* count = dsm::alloc<std::uint64_t>(1);
  dsm::mutex m{5};
  m.bind(data, words * sizeof *data);
  m.bind(count, sizeof *count);
  std::uint64_t peak = 0;
  for (int round = 0; round < kRounds; ++round) {
    {
      std::lock_guard<dsm::mutex> g(m);
      const std::uint64_t c = ++*count;
      for (std::size_t i = 0; i < words; ++i) data[i] = c * 1000 + i;
    }
    if (round % kBarrierEvery == kBarrierEvery - 1) {
      dsm::barrier();
      peak = std::max(peak, dsm::stats().protocol_bytes);
    }
  }
  dsm::barrier();
  const std::uint64_t expected = static_cast<std::uint64_t>(kRounds) * static_cast<std::uint64_t>(dsm::ranks());
  std::uint64_t seen = 0;
  bool data_ok = true;
  {
    std::lock_guard<dsm::mutex> g(m);  // bound data is read under its lock (entry consistency)
    seen = *count;
    for (std::size_t i = 0; i < words; ++i) data_ok = data_ok && data[i] == expected * 1000 + i;
  }
  DSM_EXPECT_ALL(seen == expected) << "counter " << seen << ", expected " << expected;
  DSM_EXPECT_ALL(data_ok) << "the last critical section's writes are not what every rank reads";
  DSM_EXPECT_ALL(peak < kBound) << "protocol memory reached " << peak << " bytes (bound " << kBound << ")";
  dsm::barrier();
  dsm::free(count);
  dsm::free(data);
}

}  // namespace
