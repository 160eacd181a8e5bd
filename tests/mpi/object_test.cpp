// object_test.cpp: objects (dsm::make_object) under every model. What must hold everywhere: an
// object shares no unit with a neighbour and moves only its own bytes; handles make accesses
// atomic (transfers between accounts conserve every balance exactly); read handles are const; an
// object larger than a unit is whole on every rank.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdint>
#include <random>
#include <type_traits>
#include <utility>
#include <vector>

#include "dsm/dsm.hpp"
#include "mpi_test.hpp"

namespace {

using dsm_test::collective;

struct account {
  long balance;
  long transfers;
};

static_assert(std::is_const_v<std::remove_reference_t<decltype(*std::declval<dsm::read_handle<account>&>())>>,
              "a read handle gives a const view");
static_assert(!std::is_const_v<std::remove_reference_t<decltype(*std::declval<dsm::write_handle<account>&>())>>,
              "a write handle gives a mutable view");

std::uintptr_t unit_of(const void* p) { return reinterpret_cast<std::uintptr_t>(p) / dsm::unit_size(); }

TEST_F(collective, objects_share_no_unit_and_move_only_their_bytes) {
  if (dsm::ranks() < 2) GTEST_SKIP() << "needs a second rank";
  auto a = dsm::make_object<account>(account{100, 0});
  auto b = dsm::make_object<account>(account{200, 0});
  EXPECT_NE(unit_of(a.address()), unit_of(b.address()));
  EXPECT_NE(a.lock_id(), b.lock_id());
  if (dsm::rank() == 0) {
    auto w = a.write();
    w->balance += 5;
  }
  dsm::barrier();
  const dsm_test::traffic before = dsm_test::traffic_now();
  long seen = 0;
  if (dsm::rank() == 1) seen = a.read()->balance;
  const dsm_test::traffic after = dsm_test::traffic_now();
  DSM_EXPECT_ALL(dsm::rank() != 1 || seen == 105) << "read " << seen;
  const std::uint64_t moved = after.bytes - before.bytes;
  if (dsm::rank() == 0) {
    std::printf("[object] %s: one remote read handle on a %zu-byte object sent %llu bytes in %llu messages\n",
                dsm::model_name(dsm::current_model()), sizeof(account), static_cast<unsigned long long>(moved),
                static_cast<unsigned long long>(after.messages - before.messages));
  }
  // The object's bytes and the headers of a few round trips; never the unit (4 KiB or more).
  EXPECT_LT(moved, 1024u) << "opening a handle on a " << sizeof(account) << "-byte object moved " << moved << " bytes";
  // b was never written after it was made: still what its constructor wrote.
  const long b_balance = b.read()->balance;  // the handle closes here, before the collective check
  DSM_EXPECT_ALL(b_balance == 200) << "read " << b_balance;
  dsm::barrier();
  dsm::destroy(a);
  dsm::destroy(b);
}

// Every rank makes random transfers between accounts, each with write handles on both accounts,
// opened in lock-id order. Every rank can replay every rank's transfers (seeded by rank), so each
// final balance is known exactly, whatever the order in which the ranks ran.
TEST_F(collective, transfers_keep_every_balance_exact) {
  constexpr int kAccounts = 12;
  constexpr int kTransfers = 150;
  constexpr long kStart = 1000;
  std::vector<dsm::object<account>> accounts;
  for (int i = 0; i < kAccounts; ++i) accounts.push_back(dsm::make_object<account>(account{kStart, 0}));

  auto plan = [&](int rank) {
    std::mt19937 rng(static_cast<unsigned>(rank) * 7919u + 1u);
    std::vector<std::pair<std::pair<int, int>, long>> out;
    for (int t = 0; t < kTransfers; ++t) {
      const int from = static_cast<int>(rng() % kAccounts);
      int to = static_cast<int>(rng() % (kAccounts - 1));
      if (to >= from) ++to;
      out.push_back({{from, to}, static_cast<long>(rng() % 50) + 1});
    }
    return out;
  };
  for (const auto& [pair, amount] : plan(dsm::rank())) {
    const auto& from = accounts[static_cast<std::size_t>(pair.first)];
    const auto& to = accounts[static_cast<std::size_t>(pair.second)];
    const bool from_first = from.lock_id() < to.lock_id();
    auto first = (from_first ? from : to).write();
    auto second = (from_first ? to : from).write();
    account& f = from_first ? *first : *second;
    account& t = from_first ? *second : *first;
    f.balance -= amount;
    t.balance += amount;
    f.transfers += 1;
    t.transfers += 1;
  }
  dsm::barrier();

  std::vector<long> want(kAccounts, kStart);
  std::vector<long> count(kAccounts, 0);
  for (int r = 0; r < dsm::ranks(); ++r) {
    for (const auto& [pair, amount] : plan(r)) {
      want[static_cast<std::size_t>(pair.first)] -= amount;
      want[static_cast<std::size_t>(pair.second)] += amount;
      ++count[static_cast<std::size_t>(pair.first)];
      ++count[static_cast<std::size_t>(pair.second)];
    }
  }
  long total = 0;
  bool exact = true;
  for (int i = 0; i < kAccounts; ++i) {
    const auto r = accounts[static_cast<std::size_t>(i)].read();
    total += r->balance;
    EXPECT_EQ(r->balance, want[static_cast<std::size_t>(i)]) << "account " << i << " on rank " << dsm::rank();
    exact = exact && r->balance == want[static_cast<std::size_t>(i)] && r->transfers == count[static_cast<std::size_t>(i)];
  }
  DSM_EXPECT_ALL(total == kStart * kAccounts) << "the total is " << total << ", not " << kStart * kAccounts;
  DSM_EXPECT_ALL(exact) << "a balance or a transfer count is not the replayed one";
  dsm::barrier();
  for (auto& a : accounts) dsm::destroy(a);
}

// An object larger than a unit (and not a multiple of it) is whole on every rank.
TEST_F(collective, an_object_larger_than_a_unit_moves_whole) {
  struct big {
    long v[1500];
  };
  auto o = dsm::make_object<big>();
  const int writer = dsm::ranks() - 1;
  if (dsm::rank() == writer) {
    auto w = o.write();
    for (long i = 0; i < 1500; ++i) w->v[i] = i * 3 + 1;
  }
  dsm::barrier();
  bool whole = true;
  {
    auto r = o.read();
    for (long i = 0; i < 1500; ++i) whole = whole && r->v[i] == i * 3 + 1;
  }
  DSM_EXPECT_ALL(whole) << "a reader saw part of the object only";
  dsm::barrier();
  dsm::destroy(o);
}

// A key-value table of objects: each rank owns a key range and updates it; everyone reads all.
TEST_F(collective, a_table_of_objects_sees_every_update) {
  struct entry {
    int key;
    long value;
  };
  constexpr int kKeys = 8;
  std::vector<dsm::object<entry>> table;
  for (int k = 0; k < kKeys; ++k) table.push_back(dsm::make_object<entry>(entry{k, 0}));
  for (int round = 0; round < 5; ++round) {
    for (int k = dsm::rank(); k < kKeys; k += dsm::ranks()) {
      auto w = table[static_cast<std::size_t>(k)].write();
      w->value += k + 1;
    }
  }
  dsm::barrier();
  bool right = true;
  for (int k = 0; k < kKeys; ++k) {
    auto r = table[static_cast<std::size_t>(k)].read();
    right = right && r->key == k && r->value == 5L * (k + 1);
  }
  DSM_EXPECT_ALL(right);
  dsm::barrier();
  for (auto& e : table) dsm::destroy(e);
}

// A destroyed object's lock goes back to where a new lock starts, on every rank: the next object
// made takes its id again, starts with its constructor's value (not what the lock last carried), and
// its lock works as a fresh one. Each round moves the lock's token (and, under entry consistency,
// its data and read copies) to other ranks before the object is destroyed. At the end every rank
// keeps exactly the lock records it kept before.
TEST_F(collective, a_destroyed_objects_lock_is_reused_as_new) {
  dsm::barrier();
  const std::uint64_t records = dsm::stats().lock_records;
  {
    // More objects than earlier tests destroyed: some take lock ids never used before.
    std::vector<dsm::object<account>> many;
    for (int i = 0; i < 100; ++i) many.push_back(dsm::make_object<account>(account{i, 0}));
    for (auto& o : many) o.write()->balance += 1;
    dsm::barrier();
    for (auto& o : many) dsm::destroy(o);
  }
  auto first = dsm::make_object<account>(account{0, 0});
  const std::uint64_t id = first.lock_id();
  dsm::destroy(first);
  for (int round = 0; round < 60; ++round) {
    auto o = dsm::make_object<account>(account{round, 0});
    DSM_EXPECT_ALL(o.lock_id() == id) << "round " << round << ": lock id " << o.lock_id() << ", not " << id;
    const long made = o.read()->balance;
    DSM_EXPECT_ALL(made == round) << "round " << round << ": a new object read " << made;
    for (int r = 0; r < dsm::ranks(); ++r) {
      if ((r + round) % dsm::ranks() == dsm::rank()) {
        auto w = o.write();
        w->balance += 1;
        w->transfers += dsm::rank() + 1;
      }
      if (round % 3 == 0) (void)o.read()->balance;  // read copies, or shared holders, at every rank
    }
    dsm::barrier();
    const account seen = *o.read();
    DSM_EXPECT_ALL(seen.balance == round + dsm::ranks() && seen.transfers == dsm::ranks() * (dsm::ranks() + 1) / 2)
        << "round " << round << ": balance " << seen.balance << ", transfers " << seen.transfers;
    dsm::barrier();
    dsm::destroy(o);
  }
  const std::uint64_t left = dsm::stats().lock_records;
  DSM_EXPECT_ALL(left == records) << "rank " << dsm::rank() << " keeps " << left << " lock records, " << records
                                  << " before the objects";
}

}  // namespace
