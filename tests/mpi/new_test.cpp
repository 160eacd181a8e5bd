// new_test.cpp: allocation by one rank (dsm::new_, dsm::malloc_bytes, dsm::allocator) and the
// owning dsm::array. Each rank allocates alone and every rank reads what it made; blocks freed by
// their own rank and by others are used again (nothing is lost); bad and double frees, and each
// kind of free given the other kind's pointer, are refused with dsm::error; standard containers
// built on dsm::allocator, by one rank and by several, are read by all; a shared stack whose nodes
// whichever rank pushes them makes; dsm::array frees collectively when it goes out of scope. Every
// case is data-race free (a barrier or a lock between a write and another rank's read), so it holds
// under every model: under entry consistency the nodes and elements, which no lock is bound to,
// are read only after a barrier.
#include <gtest/gtest.h>
#include <mpi.h>

#include <algorithm>
#include <cstdint>
#include <cstring>
#include <map>
#include <mutex>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;
using dsm_test::error_of;

struct item {
  int rank;
  int index;
  double value;
  item* self;
};

TEST_F(collective, each_rank_allocates_alone_and_every_rank_reads) {
  constexpr int kItems = 200;
  const int r = dsm::rank(), n = dsm::ranks();
  item** slots = dsm::alloc<item*>(static_cast<std::size_t>(n) * kItems);
  for (int i = 0; i < kItems; ++i) {
    item* it = dsm::new_<item>(item{r, i, r * 1000.0 + i + 0.5, nullptr});
    it->self = it;
    slots[r * kItems + i] = it;
  }
  dsm::barrier();
  int wrong = 0;
  std::vector<std::uintptr_t> addresses;
  for (int k = 0; k < n * kItems; ++k) {
    const item* it = slots[k];
    wrong += it->rank != k / kItems || it->index != k % kItems || it->value != (k / kItems) * 1000.0 + k % kItems + 0.5 ||
             it->self != it;
    addresses.push_back(reinterpret_cast<std::uintptr_t>(it));
  }
  std::sort(addresses.begin(), addresses.end());
  int overlaps = 0;
  for (std::size_t k = 1; k < addresses.size(); ++k) overlaps += addresses[k] - addresses[k - 1] < sizeof(item);
  DSM_EXPECT_ALL(wrong == 0) << wrong << " items read wrong";
  DSM_EXPECT_ALL(overlaps == 0) << overlaps << " items overlap";
  dsm::barrier();

  // Each rank frees the items of the next rank (its own at 1 rank); then each allocates as many
  // again, and gets the freed memory back: the highest new address is no higher than the old one.
  const int next = (r + 1) % n;
  const std::uintptr_t highest_mine = reinterpret_cast<std::uintptr_t>(
      *std::max_element(slots + r * kItems, slots + (r + 1) * kItems));
  for (int i = 0; i < kItems; ++i) dsm::delete_(slots[next * kItems + i]);
  dsm::barrier();
  std::uintptr_t highest_again = 0;
  std::vector<item*> again;
  for (int i = 0; i < kItems; ++i) {
    again.push_back(dsm::new_<item>(item{r, i, 0.0, nullptr}));
    highest_again = std::max(highest_again, reinterpret_cast<std::uintptr_t>(again.back()));
  }
  DSM_EXPECT_ALL(highest_again <= highest_mine)
      << "after its blocks were freed by rank " << (r + n - 1) % n << ", rank " << r << " allocated past them";
  for (item* it : again) dsm::delete_(it);
  dsm::barrier();
  dsm::free(slots);
}

TEST_F(collective, bad_double_and_crossed_frees_are_refused) {
  const int r = dsm::rank(), n = dsm::ranks();
  // This rank's own block, twice.
  void* p = dsm::malloc_bytes(64);
  DSM_ASSERT_ALL(p != nullptr);
  dsm::mfree(p);
  const std::string twice = error_of([&] { dsm::mfree(p); });
  DSM_EXPECT_ALL(twice.find("no live block") != std::string::npos) << "second mfree: '" << twice << "'";
  // Another rank's block, twice: the owner answers.
  void** slots = dsm::alloc<void*>(static_cast<std::size_t>(n));
  slots[r] = dsm::malloc_bytes(100);
  dsm::barrier();
  void* theirs = slots[(r + 1) % n];
  dsm::barrier();
  dsm::mfree(theirs);
  const std::string remote_twice = error_of([&] { dsm::mfree(theirs); });
  DSM_EXPECT_ALL(remote_twice.find("no live block") != std::string::npos) << "second remote mfree: '" << remote_twice << "'";
  // A pointer inside a block, a pointer outside the global space, and dsm::alloc's memory.
  char* q = static_cast<char*>(dsm::malloc_bytes(256));
  const std::string inside = error_of([&] { dsm::mfree(q + 8); });
  DSM_EXPECT_ALL(inside.find("no live block") != std::string::npos) << "'" << inside << "'";
  int local = 0;
  const std::string outside = error_of([&] { dsm::mfree(&local); });
  DSM_EXPECT_ALL(outside.find("not a pointer from dsm::malloc_bytes") != std::string::npos) << "'" << outside << "'";
  const std::string collective_memory = error_of([&] { dsm::mfree(slots); });
  DSM_EXPECT_ALL(collective_memory.find("collective dsm::free") != std::string::npos) << "'" << collective_memory << "'";
  // The collective free of a block from rank 0's arena: every rank passes it, every rank refuses it.
  dsm::barrier();
  if (r == 0) slots[0] = q;
  dsm::barrier();
  void* zeros = slots[0];
  dsm::barrier();
  const std::string crossed = error_of([&] { dsm::free(zeros); });
  DSM_EXPECT_ALL(crossed.find("arena") != std::string::npos && crossed.find("dsm::mfree") != std::string::npos)
      << "'" << crossed << "'";
  dsm::mfree(q);
  // Alignment: a power of two is honoured, anything else refused.
  void* page = dsm::malloc_bytes(100, 4096);
  DSM_EXPECT_ALL(reinterpret_cast<std::uintptr_t>(page) % 4096 == 0) << page;
  dsm::mfree(page);
  const std::string odd = error_of([&] { (void)dsm::malloc_bytes(8, 3); });
  DSM_EXPECT_ALL(odd.find("power of two") != std::string::npos) << "'" << odd << "'";
  dsm::mfree(nullptr);  // does nothing, as free(nullptr)
  dsm::barrier();
  dsm::free(slots);
}

TEST_F(collective, a_full_arena_says_so_and_gives_everything_back) {
  // 1 MiB blocks until the arena (DSM_ARENA) is full, all of them freed, then as many again.
  constexpr std::size_t kBlock = std::size_t{1} << 20;
  std::vector<void*> blocks;
  for (void* p; (p = dsm::malloc_bytes(kBlock)) != nullptr;) blocks.push_back(p);
  const std::size_t first = blocks.size();
  struct big {
    char bytes[2 * kBlock];
  };
  EXPECT_THROW((void)dsm::new_<big>(), std::bad_alloc);
  EXPECT_THROW((void)dsm::allocator<double>().allocate(kBlock), std::bad_alloc);
  for (void* p : blocks) dsm::mfree(p);
  blocks.clear();
  for (void* p; (p = dsm::malloc_bytes(kBlock)) != nullptr;) blocks.push_back(p);
  DSM_EXPECT_ALL(first > 0 && blocks.size() == first) << first << " blocks the first time, " << blocks.size() << " the second";
  for (void* p : blocks) dsm::mfree(p);
  DSM_EXPECT_ALL(dsm::malloc_bytes(SIZE_MAX / 2) == nullptr);
}

using vec = std::vector<double, dsm::allocator<double>>;

TEST_F(collective, a_vector_filled_by_one_rank_is_read_by_all) {
  constexpr int kValues = 20000;
  vec** where = dsm::alloc<vec*>(1);
  if (dsm::rank() == 0) {
    vec* v = dsm::new_<vec>();
    for (int i = 0; i < kValues; ++i) v->push_back(i * 0.25);  // reallocates, freeing the old buffers
    *where = v;
  }
  dsm::barrier();
  const vec& v = **where;
  int wrong = 0;
  for (int i = 0; i < kValues; ++i) wrong += v[static_cast<std::size_t>(i)] != i * 0.25;
  DSM_EXPECT_ALL(v.size() == kValues && wrong == 0) << v.size() << " values, " << wrong << " wrong";
  dsm::barrier();
  if (dsm::rank() == dsm::ranks() - 1) dsm::delete_(*where);  // frees rank 0's blocks from another rank
  dsm::barrier();
  dsm::free(where);
}

using map = std::map<int, long, std::less<>, dsm::allocator<std::pair<const int, long>>>;

TEST_F(collective, a_map_built_by_every_rank_in_turn) {
  constexpr int kKeys = 300;
  const int r = dsm::rank(), n = dsm::ranks();
  map** where = dsm::alloc<map*>(1);
  if (r == n - 1) *where = dsm::new_<map>();
  dsm::barrier();
  // Each rank in turn adds its keys: the tree's nodes come from every rank's arena.
  for (int turn = 0; turn < n; ++turn) {
    if (turn == r) {
      for (int k = 0; k < kKeys; ++k) (**where)[k * n + r] = static_cast<long>(k) * n + r + 7;
    }
    dsm::barrier();
  }
  const map& m = **where;
  long sum = 0, expected = 0;
  int wrong = 0;
  for (const auto& [key, value] : m) sum += value, wrong += value != key + 7;
  for (int key = 0; key < kKeys * n; ++key) expected += key + 7;
  DSM_EXPECT_ALL(m.size() == static_cast<std::size_t>(kKeys * n) && wrong == 0 && sum == expected)
      << m.size() << " keys, " << wrong << " wrong, sum " << sum << " of " << expected;
  DSM_EXPECT_ALL(m.find(5 * n) != m.end() && m.find(kKeys * n) == m.end());
  dsm::barrier();
  if (r == 0) dsm::delete_(*where);  // frees nodes of every rank's arena
  dsm::barrier();
  dsm::free(where);
}

struct task {
  long value;
  task* next;
};

TEST_F(collective, a_stack_whose_nodes_the_pushing_rank_makes) {
  constexpr int kPerRank = 500;
  const int r = dsm::rank(), n = dsm::ranks();
  task** head = dsm::alloc<task*>(1);
  dsm::mutex m{31};
  m.bind(head, sizeof *head);  // under entry consistency the head travels with the lock
  for (int i = 0; i < kPerRank; ++i) {
    task* t = dsm::new_<task>(task{static_cast<long>(r) * kPerRank + i, nullptr});
    std::lock_guard g(m);
    t->next = *head;
    *head = t;
  }
  dsm::barrier();  // the nodes, which no lock is bound to, are written before anyone reads them
  long sum = 0, taken = 0;
  for (;;) {
    task* t;
    {
      std::lock_guard g(m);
      t = *head;
      if (t != nullptr) *head = t->next;
    }
    if (t == nullptr) break;
    sum += t->value;
    ++taken;
    dsm::delete_(t);  // mostly another rank's node
  }
  const long total = static_cast<long>(dsm_test::sum_over_ranks(static_cast<std::uint64_t>(sum)));
  const long count = static_cast<long>(dsm_test::sum_over_ranks(static_cast<std::uint64_t>(taken)));
  const long all = static_cast<long>(n) * kPerRank;
  DSM_EXPECT_ALL(count == all && total == all * (all - 1) / 2) << count << " nodes taken, sum " << total;
  dsm::barrier();
  dsm::free(head);
}

TEST_F(collective, an_array_owns_its_memory) {
  constexpr std::size_t kCount = 3000;
  const int r = dsm::rank(), n = dsm::ranks();
  const int* first = nullptr;
  for (dsm::placement where : {dsm::placement::configured, dsm::placement::block, dsm::placement::cyclic,
                               dsm::placement::first_touch}) {
    dsm::array<int> a(kCount, where);
    if (first == nullptr) first = a.data();
    DSM_EXPECT_ALL(a.data() == first && a.size() == kCount && !a.empty())
        << "the array's memory is freed with it, so each one takes the same place";
    DSM_EXPECT_ALL(std::count(a.begin(), a.end(), 0) == static_cast<long>(kCount));
    const std::size_t lo = kCount * static_cast<std::size_t>(r) / static_cast<std::size_t>(n);
    const std::size_t hi = kCount * static_cast<std::size_t>(r + 1) / static_cast<std::size_t>(n);
    for (std::size_t i = lo; i < hi; ++i) a[i] = static_cast<int>(i) * 3;
    dsm::barrier();
    std::span<const int> s = std::as_const(a);
    long wrong = 0;
    for (std::size_t i = 0; i < s.size(); ++i) wrong += s[i] != static_cast<int>(i) * 3;
    DSM_EXPECT_ALL(wrong == 0) << wrong << " elements wrong";
    dsm::barrier();
  }
  dsm::array<int> moved;
  {
    dsm::array<int> a(10);
    moved = std::move(a);
  }
  DSM_EXPECT_ALL(moved.size() == 10 && moved.data() != nullptr);
  moved.reset();
  DSM_EXPECT_ALL(moved.empty() && moved.data() == nullptr);
}

}  // namespace
