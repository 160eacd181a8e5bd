// atomic_test.cpp: dsm::atomic_ref (and the C atomics) under every model. A histogram filled with
// fetch_add by every rank holds exactly the counts each rank knows it added; a counter advanced by
// compare-and-swap loops loses no increment; exchange hands every value on exactly once; 4-byte
// integers wrap as integers do; a word bound to no lock works under every model but entry
// consistency, which refuses it with dsm::error, as it refuses a misaligned word or one outside the
// global space. Bound words are read back with atomic loads, which under entry consistency take the
// lock shared; unbound ones after a barrier with plain loads.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "dsm/dsm.h"
#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;
using dsm_test::error_of;
using dsm_test::sum_over_ranks;

bool entry() { return dsm::current_model() == dsm::model::entry; }

TEST_F(collective, a_histogram_filled_by_every_rank_holds_the_exact_counts) {
  constexpr int kBins = 64, kAdds = 1500;
  long* bins = dsm::alloc<long>(kBins);
  dsm::mutex{60}.bind(bins, kBins * sizeof(long));
  std::vector<std::uint64_t> mine(kBins, 0);
  std::uint64_t x = 12345 + static_cast<std::uint64_t>(dsm::rank()) * 7919;
  int negative = 0;
  for (int i = 0; i < kAdds; ++i) {
    x = x * 6364136223846793005ULL + 1442695040888963407ULL;
    const int b = static_cast<int>((x >> 33) % kBins);
    negative += dsm::atomic_ref<long>(bins[b]).fetch_add(1) < 0;
    ++mine[static_cast<std::size_t>(b)];
  }
  dsm::barrier();
  int wrong = 0;
  long total = 0;
  for (int b = 0; b < kBins; ++b) {
    const long seen = dsm::atomic_ref<long>(bins[b]).load();
    total += seen;
    wrong += static_cast<std::uint64_t>(seen) != sum_over_ranks(mine[static_cast<std::size_t>(b)]);
  }
  DSM_EXPECT_ALL(wrong == 0 && total == static_cast<long>(dsm::ranks()) * kAdds && negative == 0)
      << wrong << " bins wrong, " << total << " counts in all, " << negative << " negative counts seen";
  dsm::barrier();
  dsm::free(bins);
}

TEST_F(collective, compare_exchange_loops_lose_no_increment) {
  constexpr int kIncrements = 300;
  std::int64_t* counter = dsm::alloc<std::int64_t>(1);
  dsm::mutex{61}.bind(counter, sizeof *counter);
  dsm::atomic_ref<std::int64_t> c(*counter);
  for (int i = 0; i < kIncrements; ++i) {
    std::int64_t seen = c.load();
    while (!c.compare_exchange_weak(seen, seen + 1)) {
    }
  }
  dsm::barrier();
  const std::int64_t final_value = c.load();
  DSM_EXPECT_ALL(final_value == static_cast<std::int64_t>(dsm::ranks()) * kIncrements) << "counter " << final_value;
  // The C twins on the same word.
  dsm::barrier();
  const std::int64_t before = dsm_atomic_fetch_add(counter, 2);
  DSM_EXPECT_ALL(before % 2 == 0 && before >= final_value) << before;
  dsm::barrier();
  DSM_EXPECT_ALL(dsm_atomic_load(counter) == final_value + 2 * dsm::ranks());
  dsm::barrier();
  dsm::free(counter);
}

TEST_F(collective, exchange_hands_every_value_on_exactly_once) {
  const int n = dsm::ranks();
  std::int64_t* word = dsm::alloc<std::int64_t>(1);
  dsm::mutex{62}.bind(word, sizeof *word);
  // Every rank swaps in rank + 1: the values swapped out, with the one left, are 0 .. n exactly once.
  const std::int64_t out = dsm::atomic_ref<std::int64_t>(*word).exchange(dsm::rank() + 1);
  dsm::barrier();
  std::vector<std::int64_t> all(static_cast<std::size_t>(n));
  MPI_Allgather(&out, 1, MPI_INT64_T, all.data(), 1, MPI_INT64_T, MPI_COMM_WORLD);
  all.push_back(dsm_atomic_compare_exchange(word, -1, -1));  // a failed exchange reads the value left
  std::sort(all.begin(), all.end());
  bool each_once = true;
  for (std::size_t k = 0; k < all.size(); ++k) each_once = each_once && all[k] == static_cast<std::int64_t>(k);
  DSM_EXPECT_ALL(each_once) << "the values handed on are not 0 .. ranks, each once";
  dsm::barrier();
  dsm::free(word);
}

TEST_F(collective, four_byte_integers_wrap_as_integers_do) {
  constexpr int kSubtractions = 100;
  std::int32_t* small = dsm::alloc<std::int32_t>(2);
  dsm::mutex{63}.bind(small, 2 * sizeof(std::int32_t));
  dsm::atomic_ref<std::int32_t> down(small[0]);
  dsm::atomic_ref<std::uint32_t> bits(*reinterpret_cast<std::uint32_t*>(&small[1]));
  for (int i = 0; i < kSubtractions; ++i) --down;
  bits.fetch_or(1u << (dsm::rank() % 32));
  dsm::barrier();
  const std::int32_t seen = down.load();
  const std::uint32_t mask = bits.load();
  std::uint32_t expected_mask = 0;
  for (int r = 0; r < dsm::ranks(); ++r) expected_mask |= 1u << (r % 32);
  DSM_EXPECT_ALL(seen == -dsm::ranks() * kSubtractions && mask == expected_mask) << seen << ", mask " << mask;
  dsm::barrier();
  dsm::free(small);
}

TEST_F(collective, a_word_bound_to_no_lock_works_except_under_entry_consistency) {
  constexpr int kAdds = 400;
  long* word = dsm::alloc<long>(1);
  std::string refused;
  for (int i = 0; i < kAdds && refused.empty(); ++i) refused = error_of([&] { dsm::atomic_ref<long>(*word).fetch_add(3); });
  dsm::barrier();
  if (entry()) {
    DSM_EXPECT_ALL(refused.find("bound to a lock") != std::string::npos) << "'" << refused << "'";
  } else {
    const long seen = *word;  // a plain load after the barrier
    DSM_EXPECT_ALL(refused.empty() && seen == 3L * kAdds * dsm::ranks()) << "'" << refused << "', read " << seen;
  }
  dsm::barrier();
  dsm::free(word);
}

TEST_F(collective, misaligned_and_foreign_words_are_refused) {
  long* words = dsm::alloc<long>(2);
  dsm::mutex{64}.bind(words, 2 * sizeof(long));
  auto* odd = reinterpret_cast<long*>(reinterpret_cast<char*>(words) + 4);
  const std::string misaligned = error_of([&] { dsm::atomic_ref<long>(*odd).fetch_add(1); });
  long local = 0;
  const std::string foreign = error_of([&] { dsm::atomic_ref<long>(local).fetch_add(1); });
  DSM_EXPECT_ALL(misaligned.find("aligned") != std::string::npos && foreign.find("global space") != std::string::npos)
      << "'" << misaligned << "', '" << foreign << "'";
  dsm::barrier();
  dsm::free(words);
}

}  // namespace
