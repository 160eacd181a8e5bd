// bank: what granularity costs. Accounts of 16 bytes, each guarded by its own lock, placed either
// two to a unit in one array (page granularity: a transfer moves units, or diffs of them) or as
// objects of their own (dsm::make_object: a transfer moves the objects' bytes). Two workloads:
//   bank <page|object> transfers [accounts=64] [transfers_per_rank=200] [reps=5]
//     every rank makes random transfers between two accounts, both locked in id order;
//   bank <page|object> migratory [accounts=2] [turns=500] [reps=5]
//     one account moves from rank to rank in strict turns (its lock passes with it).
// Prints one line per run (bench::report): time, messages and bytes per transfer, summed over the
// ranks. Checks that every balance is exact (every rank replays every rank's transfers) and the
// total conserved; exits 1 otherwise.
#include <mpi.h>

#include <cstdint>
#include <cstring>
#include <functional>
#include <list>
#include <memory>
#include <mutex>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include "../release/release_common.hpp"

namespace {

struct account {
  long balance;
  long transfers;
};
constexpr long kStart = 1000;

// One way to reach the accounts: open(i, write) gives the account, held until close(i, write).
class accounts {
 public:
  accounts(bool objects, int count) : objects_(objects) {
    if (objects_) {
      for (int i = 0; i < count; ++i) objs_.push_back(dsm::make_object<account>(account{kStart, 0}));
      return;
    }
    // Two accounts to a unit, each bound to a lock of its own.
    const std::size_t half = dsm::unit_size() / 2;
    block_ = dsm::alloc<char>(static_cast<std::size_t>(count) * half);
    for (int i = 0; i < count; ++i) {
      auto* a = reinterpret_cast<account*>(block_ + static_cast<std::size_t>(i) * half);
      locks_.push_back(std::make_unique<dsm::mutex>(1000 + static_cast<std::uint64_t>(i)));
      locks_.back()->bind(a, sizeof *a);
      if (dsm::rank() == 0) {
        std::lock_guard g(*locks_.back());
        *a = account{kStart, 0};
      }
      ptrs_.push_back(a);
    }
    dsm::barrier();
  }
  ~accounts() {
    for (auto& o : objs_) dsm::destroy(o);
    if (block_ != nullptr) dsm::free(block_);
  }

  std::uint64_t order(int i) const {
    return objects_ ? objs_[static_cast<std::size_t>(i)].lock_id() : locks_[static_cast<std::size_t>(i)]->id();
  }
  account& open(int i, bool write) {
    const auto k = static_cast<std::size_t>(i);
    if (objects_) {
      if (write) return *held_w_.emplace_back(i, objs_[k].write()).second;
      return const_cast<account&>(*held_r_.emplace_back(i, objs_[k].read()).second);
    }
    if (write) locks_[k]->lock();
    else locks_[k]->lock_shared();
    return *ptrs_[k];
  }
  void close(int i, bool write) {
    if (objects_) {
      if (write) held_w_.remove_if([&](const auto& h) { return h.first == i; });
      else held_r_.remove_if([&](const auto& h) { return h.first == i; });
      return;
    }
    if (write) locks_[static_cast<std::size_t>(i)]->unlock();
    else locks_[static_cast<std::size_t>(i)]->unlock_shared();
  }

 private:
  bool objects_;
  std::vector<dsm::object<account>> objs_;
  std::list<std::pair<int, dsm::write_handle<account>>> held_w_;
  std::list<std::pair<int, dsm::read_handle<account>>> held_r_;
  char* block_ = nullptr;
  std::vector<std::unique_ptr<dsm::mutex>> locks_;
  std::vector<account*> ptrs_;
};

struct transfer {
  int from, to;
  long amount;
};

std::vector<transfer> plan(int rank, int accounts_n, long count) {
  std::mt19937 rng(static_cast<unsigned>(rank) * 7919u + 17u);
  std::vector<transfer> out;
  for (long t = 0; t < count; ++t) {
    const int from = static_cast<int>(rng() % static_cast<unsigned>(accounts_n));
    int to = static_cast<int>(rng() % static_cast<unsigned>(accounts_n - 1));
    if (to >= from) ++to;
    out.push_back({from, to, static_cast<long>(rng() % 50) + 1});
  }
  return out;
}

// Moves `amount` from one account to the other, both held in lock-id order.
void move(accounts& acc, int from, int to, long amount) {
  const bool from_first = acc.order(from) < acc.order(to);
  const int a = from_first ? from : to, b = from_first ? to : from;
  account& first = acc.open(a, true);
  account& second = acc.open(b, true);
  account& f = from_first ? first : second;
  account& t = from_first ? second : first;
  f.balance -= amount;
  t.balance += amount;
  ++f.transfers;
  ++t.transfers;
  acc.close(b, true);
  acc.close(a, true);
}

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const bool objects = argc > 1 && std::strcmp(argv[1], "object") == 0;
  const bool migratory = argc > 2 && std::strcmp(argv[2], "migratory") == 0;
  const int n_accounts = static_cast<int>(bench::arg_or(argc, argv, 3, migratory ? 2 : 64));
  const long per_rank = bench::arg_or(argc, argv, 4, migratory ? 500 : 200);
  const long nreps = bench::arg_or(argc, argv, 5, 5);
  const int me = dsm::rank(), n = dsm::ranks();
  if (n_accounts < 2) {
    if (me == 0) std::fprintf(stderr, "bank: needs at least 2 accounts\n");
    return 2;
  }

  accounts acc(objects, n_accounts);
  std::vector<long> want(static_cast<std::size_t>(n_accounts), kStart);
  std::vector<long> count(static_cast<std::size_t>(n_accounts), 0);
  long cs_per_rep = 0;
  std::function<void()> one_rep;
  long turn_end = 0;
  const std::vector<transfer> mine = plan(me, n_accounts, per_rank);
  if (migratory) {
    // Account 0 pays 1 into account 1 on every turn; turn t is rank t % n's. The turn counter is
    // account 1's transfer count, so it travels with the accounts themselves.
    cs_per_rep = per_rank * n;
    one_rep = [&] {
      turn_end += cs_per_rep;
      for (;;) {
        const bool first0 = acc.order(0) < acc.order(1);
        account& x = acc.open(first0 ? 0 : 1, true);
        account& y = acc.open(first0 ? 1 : 0, true);
        account& a0 = first0 ? x : y;
        account& a1 = first0 ? y : x;
        const long t = a1.transfers;
        const bool my_turn = t < turn_end && t % n == me;
        if (my_turn) {
          a0.balance -= 1;
          a1.balance += 1;
          ++a0.transfers;
          ++a1.transfers;
        }
        acc.close(first0 ? 1 : 0, true);
        acc.close(first0 ? 0 : 1, true);
        if (t >= turn_end) return;
        if (!my_turn) bench::not_my_turn();
      }
    };
  } else {
    cs_per_rep = per_rank * n;
    one_rep = [&] {
      for (const transfer& t : mine) move(acc, t.from, t.to, t.amount);
    };
  }

  bench::timed_rep(one_rep);  // warm-up
  std::vector<bench::sample> reps;
  for (long r = 0; r < nreps; ++r) reps.push_back(bench::timed_rep(one_rep));

  // What every balance must be now: every rank replays every rank's transfers.
  const long runs = nreps + 1;
  if (migratory) {
    want[0] -= runs * cs_per_rep;
    want[1] += runs * cs_per_rep;
    count[0] = count[1] = runs * cs_per_rep;
  } else {
    for (int r = 0; r < n; ++r) {
      for (const transfer& t : plan(r, n_accounts, per_rank)) {
        want[static_cast<std::size_t>(t.from)] -= t.amount * runs;
        want[static_cast<std::size_t>(t.to)] += t.amount * runs;
        count[static_cast<std::size_t>(t.from)] += runs;
        count[static_cast<std::size_t>(t.to)] += runs;
      }
    }
  }
  long total = 0;
  bool exact = true;
  for (int i = 0; i < n_accounts; ++i) {
    const account& a = acc.open(i, false);
    total += a.balance;
    exact = exact && a.balance == want[static_cast<std::size_t>(i)] && a.transfers == count[static_cast<std::size_t>(i)];
    acc.close(i, false);
  }
  if (!exact || total != kStart * n_accounts)
    std::fprintf(stderr, "bank: rank %d: total %ld (want %ld), every balance exact: %s\n", me, total,
                 kStart * n_accounts, exact ? "yes" : "no");
  const bool ok = bench::all_ok(exact && total == kStart * n_accounts);
  const std::string extra = std::string("granularity=") + (objects ? "object" : "page") +
                            " workload=" + (migratory ? "migratory" : "transfers") +
                            " accounts=" + std::to_string(n_accounts);
  bench::report("bank", extra.c_str(), cs_per_rep, reps, ok);
  dsm::barrier();
  return ok ? 0 : 1;
}
