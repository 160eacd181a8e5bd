// pointer_test.cpp: pointers into the global space mean the same datum on every rank. One rank
// builds a linked list and a binary search tree inside one dsm::alloc'd arena (nodes placed out of
// order so links jump between units), and after a barrier every other rank walks them by following
// the stored pointers and checks the count, the exact sum and the ordering. Then every rank pushes
// its own nodes onto one shared list under a lock, and all ranks walk the combined list. Every
// access is ordered by a barrier or the lock, so this holds under every consistency model.
#include <gtest/gtest.h>

#include <signal.h>

#include <cstddef>
#include <cstdint>
#include <mutex>
#include <shared_mutex>
#include <new>
#include <numeric>
#include <vector>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

struct list_node {
  list_node* next;
  std::int64_t value;
};

struct tree_node {
  tree_node* left;
  tree_node* right;
  std::int64_t key;
  std::int64_t payload;
};

// A deterministic permutation of 0..n-1 (the same on every rank, without reading shared memory).
std::vector<std::size_t> shuffled(std::size_t n, std::uint64_t seed) {
  std::vector<std::size_t> order(n);
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::uint64_t s = seed;
  for (std::size_t i = n; i > 1; --i) {
    s = s * 6364136223846793005ull + 1442695040888963407ull;
    std::swap(order[i - 1], order[(s >> 33) % i]);
  }
  return order;
}

std::int64_t list_value(std::size_t i) { return static_cast<std::int64_t>(i * i % 1009) + 1; }

namespace {
long* g_signal_target = nullptr;  // this rank's word, written by its signal handler
void write_from_handler(int) { *g_signal_target = 1000 + dsm::rank(); }
}  // namespace

// A signal handler of the program's may touch shared memory while its thread is outside dsm: the
// fault it takes is served like any other (misuse.sh's signal_inside_barrier shows the other case).
TEST_F(collective, a_signal_handler_outside_dsm_writes_shared_memory) {
  const std::size_t per_unit = dsm::unit_size() / sizeof(long);
  long* words = dsm::alloc<long>(per_unit * static_cast<std::size_t>(dsm::ranks()));
  g_signal_target = words + per_unit * static_cast<std::size_t>(dsm::rank());  // a unit of its own, untouched
  struct sigaction sa {}, old {};
  sa.sa_handler = write_from_handler;
  sigaction(SIGUSR2, &sa, &old);
  raise(SIGUSR2);  // delivered on this thread, now
  sigaction(SIGUSR2, &old, nullptr);
  dsm::barrier();
  int wrong = 0;
  for (int r = 0; r < dsm::ranks(); ++r) wrong += words[per_unit * static_cast<std::size_t>(r)] != 1000 + r;
  DSM_EXPECT_ALL(wrong == 0) << wrong << " words the handlers wrote read wrong after the barrier";
  dsm::barrier();
  dsm::free(words);
}

TEST_F(collective, list_built_by_one_rank_is_walked_by_all) {
  constexpr std::size_t kNodes = 3000;
  list_node* arena = dsm::alloc<list_node>(kNodes);
  list_node** head = dsm::alloc<list_node*>(1);
  const int builder = 0;
  if (dsm::rank() == builder) {
    // Node i of the list lives in slot order[i], so consecutive nodes are far apart.
    const std::vector<std::size_t> order = shuffled(kNodes, 17);
    list_node* next = nullptr;
    for (std::size_t i = kNodes; i-- > 0;) {
      list_node* n = new (&arena[order[i]]) list_node{next, list_value(i)};
      next = n;
    }
    *head = next;
  }
  dsm::barrier();
  std::size_t count = 0;
  std::int64_t sum = 0;
  bool in_order = true;
  for (const list_node* n = *head; n != nullptr && count <= kNodes; n = n->next) {
    const bool inside = n >= arena && n < arena + kNodes;
    if (!inside) {
      in_order = false;
      break;
    }
    in_order = in_order && n->value == list_value(count);
    sum += n->value;
    ++count;
  }
  std::int64_t want = 0;
  for (std::size_t i = 0; i < kNodes; ++i) want += list_value(i);
  DSM_EXPECT_ALL(count == kNodes && sum == want && in_order)
      << "walked " << count << " nodes, sum " << sum << " (want " << kNodes << " nodes, sum " << want
      << "), values in order: " << in_order;
  dsm::barrier();
  dsm::free(head);
  dsm::free(arena);
}

tree_node* insert(tree_node* root, tree_node* node) {
  if (root == nullptr) return node;
  tree_node* at = root;
  for (;;) {
    tree_node** child = node->key < at->key ? &at->left : &at->right;
    if (*child == nullptr) {
      *child = node;
      return root;
    }
    at = *child;
  }
}

struct tree_walk {
  std::size_t count = 0;
  std::int64_t key_sum = 0;
  std::int64_t payload_sum = 0;
  bool sorted = true;
  bool have_last = false;
  std::int64_t last = 0;
};

void walk(const tree_node* n, tree_walk& w, int depth) {
  if (n == nullptr) return;
  if (depth > 200) {  // a cycle or a wild pointer; the builder's tree is far shallower
    w.sorted = false;
    return;
  }
  walk(n->left, w, depth + 1);
  if (w.have_last && n->key < w.last) w.sorted = false;
  w.have_last = true;
  w.last = n->key;
  ++w.count;
  w.key_sum += n->key;
  w.payload_sum += n->payload;
  walk(n->right, w, depth + 1);
}

TEST_F(collective, tree_built_by_one_rank_is_walked_by_all) {
  constexpr std::size_t kNodes = 2000;
  tree_node* arena = dsm::alloc<tree_node>(kNodes);
  tree_node** root = dsm::alloc<tree_node*>(1);
  const int builder = dsm::ranks() - 1;
  const std::vector<std::size_t> keys = shuffled(kNodes, 99);      // insertion order of the keys
  const std::vector<std::size_t> slots = shuffled(kNodes, 12345);  // where each node lives
  if (dsm::rank() == builder) {
    tree_node* r = nullptr;
    for (std::size_t i = 0; i < kNodes; ++i) {
      const auto key = static_cast<std::int64_t>(keys[i]) * 3;
      tree_node* n = new (&arena[slots[i]]) tree_node{nullptr, nullptr, key, key * key % 7919};
      r = insert(r, n);
    }
    *root = r;
  }
  dsm::barrier();
  tree_walk w;
  walk(*root, w, 0);
  std::int64_t want_keys = 0;
  std::int64_t want_payloads = 0;
  for (std::size_t k = 0; k < kNodes; ++k) {
    const auto key = static_cast<std::int64_t>(k) * 3;
    want_keys += key;
    want_payloads += key * key % 7919;
  }
  DSM_EXPECT_ALL(w.count == kNodes && w.key_sum == want_keys && w.payload_sum == want_payloads && w.sorted)
      << "walked " << w.count << " nodes, key sum " << w.key_sum << " (want " << want_keys
      << "), payload sum " << w.payload_sum << " (want " << want_payloads << "), sorted " << w.sorted;
  dsm::barrier();
  dsm::free(root);
  dsm::free(arena);
}

// Every rank pushes kPerRank nodes from its own part of the arena onto one shared list, under a lock.
TEST_F(collective, list_pushed_to_by_every_rank_under_a_lock) {
  constexpr std::size_t kPerRank = 100;
  const auto ranks = static_cast<std::size_t>(dsm::ranks());
  list_node* arena = dsm::alloc<list_node>(kPerRank * ranks);
  list_node** head = dsm::alloc<list_node*>(1);
  dsm::mutex m{40};
  m.bind(head, sizeof *head);  // the head travels with its lock (entry consistency); nodes are unbound
  const auto me = static_cast<std::size_t>(dsm::rank());
  for (std::size_t i = 0; i < kPerRank; ++i) {
    list_node* n = &arena[me * kPerRank + i];
    std::lock_guard guard(m);
    *n = list_node{*head, static_cast<std::int64_t>(me * 1000 + i)};
    *head = n;
  }
  dsm::barrier();
  std::size_t count = 0;
  std::int64_t sum = 0;
  std::vector<std::size_t> per_rank(ranks, 0);
  bool valid = true;
  const list_node* first = nullptr;
  {
    std::shared_lock reader(m);
    first = *head;
  }
  for (const list_node* n = first; n != nullptr && count <= kPerRank * ranks; n = n->next) {
    if (n < arena || n >= arena + kPerRank * ranks) {
      valid = false;
      break;
    }
    ++per_rank[static_cast<std::size_t>(n - arena) / kPerRank];
    sum += n->value;
    ++count;
  }
  std::int64_t want = 0;
  for (std::size_t r = 0; r < ranks; ++r) {
    for (std::size_t i = 0; i < kPerRank; ++i) want += static_cast<std::int64_t>(r * 1000 + i);
  }
  bool balanced = true;
  for (std::size_t c : per_rank) balanced = balanced && c == kPerRank;
  DSM_EXPECT_ALL(valid && count == kPerRank * ranks && sum == want && balanced)
      << "walked " << count << " nodes (want " << kPerRank * ranks << "), sum " << sum << " (want " << want
      << "), pointers valid " << valid << ", each rank's nodes present once " << balanced;
  dsm::barrier();
  dsm::free(head);
  dsm::free(arena);
}

}  // namespace
