// bank: accounts as objects (object granularity). Each account is a dsm::make_object<account>: it
// shares no unit with another account, only its own bytes move, and it carries its own lock. Every
// rank makes random transfers; a transfer opens write handles on both accounts (in lock-id order, so
// two ranks never wait for each other in a circle), moves the money, and closes them. At the end
// every rank reads every balance through read handles: the total is what it was at the start,
// under every model.
//   mpirun -np 4 ./bank [accounts=32] [transfers_per_rank=500]
#include <cstdio>
#include <cstdlib>
#include <random>
#include <vector>

#include "dsm/dsm.hpp"

struct account {
  long balance;
  long transfers;
};

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const int n = argc > 1 ? std::atoi(argv[1]) : 32;
  const int per_rank = argc > 2 ? std::atoi(argv[2]) : 500;
  constexpr long kStart = 100;

  std::vector<dsm::object<account>> accounts;  // collective: the same objects on every rank
  for (int i = 0; i < n; ++i) accounts.push_back(dsm::make_object<account>(account{kStart, 0}));

  std::mt19937 rng(static_cast<unsigned>(dsm::rank()) + 1);
  for (int t = 0; t < per_rank; ++t) {
    const int from = static_cast<int>(rng() % static_cast<unsigned>(n));
    const int to = static_cast<int>((static_cast<unsigned>(from) + 1 + rng() % static_cast<unsigned>(n - 1)) % static_cast<unsigned>(n));
    const long amount = static_cast<long>(rng() % 20);
    const auto& a = accounts[static_cast<std::size_t>(from)];
    const auto& b = accounts[static_cast<std::size_t>(to)];
    const bool a_first = a.lock_id() < b.lock_id();
    auto first = (a_first ? a : b).write();  // exclusive: the object's lock, then its bytes
    auto second = (a_first ? b : a).write();
    account& src = a_first ? *first : *second;
    account& dst = a_first ? *second : *first;
    src.balance -= amount;  // balances may go negative: this bank lends
    dst.balance += amount;
    ++src.transfers;
    ++dst.transfers;
  }  // the handles close here: the locks are released

  dsm::barrier();
  long total = 0, transfers = 0;
  for (const auto& acct : accounts) {
    const auto r = acct.read();  // shared under entry consistency: all ranks read at once
    total += r->balance;
    transfers += r->transfers;
  }
  const long want = kStart * n;
  const bool ok = total == want && transfers == 2L * per_rank * dsm::ranks();
  if (dsm::rank() == 0)
    std::printf("bank: %d accounts, %d ranks x %d transfers, total %ld (expected %ld): %s\n", n, dsm::ranks(), per_rank,
                total, want, ok ? "OK" : "FAIL");
  dsm::barrier();
  for (auto& acct : accounts) dsm::destroy(acct);
  return ok ? 0 : 1;
}
