// large_memory_test.cpp: a 4 GiB shared array used sparsely by two ranks. The array's OS pages are
// cut into groups of kStride; in group g one page (at an offset that varies with g, so the written
// pages fall on units of every home) gets one 8-byte word (at an offset that also varies) written by
// rank g % ranks(). Each of two ranks writes 65,536 pages scattered over the whole array and then
// reads all 131,072: twice vm.max_map_count (65,530 by default), so a runtime that gave
// every touched page its own mapping or protection range would run out of kernel map entries here.
// After a barrier every rank reads every written word, and a sample of words nobody wrote, which
// must still be zero. Registered at 2 ranks with DSM_SIZE=8G. Data-race free, so it holds under
// every consistency model.
#include <gtest/gtest.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstdio>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

constexpr std::uint64_t kBytes = std::uint64_t{4} << 30;
constexpr std::uint64_t kStride = 8;  // one written page in every 8: 131,072 of 1,048,576 (4 KiB pages)
static_assert(kBytes / 4096 / kStride / 2 > 65530,
              "each of 2 ranks must touch more than max_map_count pages");

std::uint64_t value_of(std::uint64_t group) { return (group * 0x9E3779B97F4A7C15ull) | 1u; }

// The page written in group g, and the word written in it.
std::uint64_t page_of(std::uint64_t group) { return group * kStride + (group / 2) % kStride; }
std::uint64_t word_of(std::uint64_t group, std::uint64_t words_per_page) {
  return page_of(group) * words_per_page + group % words_per_page;
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

TEST_F(collective, scattered_words_of_a_4_gib_array_are_seen_by_every_rank) {
  const auto page_bytes = static_cast<std::uint64_t>(sysconf(_SC_PAGESIZE));
  const std::uint64_t pages = kBytes / page_bytes;
  const auto ranks = static_cast<std::uint64_t>(dsm::ranks());
  const auto me = static_cast<std::uint64_t>(dsm::rank());

  const std::uint64_t groups = pages / kStride;
  const std::uint64_t words_per_page = page_bytes / sizeof(std::uint64_t);

  const auto start = std::chrono::steady_clock::now();
  char* block = dsm::alloc<char>(kBytes);
  auto* words = reinterpret_cast<std::uint64_t*>(block);
  DSM_ASSERT_ALL(block != nullptr && reinterpret_cast<std::uintptr_t>(block) % sizeof(std::uint64_t) == 0);

  std::uint64_t written = 0;
  for (std::uint64_t g = me; g < groups; g += ranks) {
    words[word_of(g, words_per_page)] = value_of(g);
    ++written;
  }
  const double write_s = seconds_since(start);
  dsm::barrier();

  const auto verify_start = std::chrono::steady_clock::now();
  std::uint64_t checked = 0;
  std::uint64_t wrong = 0;
  std::uint64_t first_wrong = groups;
  for (std::uint64_t g = 0; g < groups; ++g) {
    const std::uint64_t seen = words[word_of(g, words_per_page)];
    ++checked;
    if (seen != value_of(g) && wrong++ == 0) first_wrong = g;
  }
  // Words nobody wrote, in every 256th group: the written word's neighbour, and the first word of
  // another page of the group.
  std::uint64_t dirty = 0;
  for (std::uint64_t g = 0; g < groups; g += 256) {
    dirty += words[page_of(g) * words_per_page + (g + 1) % words_per_page] != 0;
    dirty += words[(g * kStride + ((g / 2) + 1) % kStride) * words_per_page] != 0;
  }
  const double verify_s = seconds_since(verify_start);

  const std::uint64_t total_written = dsm_test::sum_over_ranks(written);
  DSM_EXPECT_ALL(total_written == groups) << "wrote " << total_written << " words in all, want " << groups;
  DSM_EXPECT_ALL(wrong == 0) << wrong << " of " << checked << " written words read wrong on rank "
                             << dsm::rank() << ", first in page "
                             << (first_wrong < groups ? page_of(first_wrong) : 0) << ": read "
                             << (first_wrong < groups ? words[word_of(first_wrong, words_per_page)] : 0)
                             << " want " << (first_wrong < groups ? value_of(first_wrong) : 0);
  DSM_EXPECT_ALL(dirty == 0) << dirty << " words nobody wrote read non-zero";

  const dsm::statistics s = dsm::stats();
  std::printf(
      "[rank %d] wrote %llu pages in %.1f s, verified %llu in %.1f s; read_misses %llu write_misses %llu "
      "units_fetched %llu remaps %llu\n",
      dsm::rank(), static_cast<unsigned long long>(written), write_s,
      static_cast<unsigned long long>(checked), verify_s, static_cast<unsigned long long>(s.read_misses),
      static_cast<unsigned long long>(s.write_misses), static_cast<unsigned long long>(s.units_fetched),
      static_cast<unsigned long long>(s.remaps));
  std::fflush(stdout);
  dsm::barrier();
  dsm::free(block);
}

}  // namespace
