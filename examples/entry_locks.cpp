// entry_locks: entry consistency with a lock per data item (Midway, Bershad et al. 1993), the
// textbook figure: every shared datum is bound to the lock that guards it, and acquiring a lock
// brings exactly its bound data up to date (and nothing else).
//
//   lock i  <-bound->  account[i]        (bind: dsm::mutex::bind(ptr, bytes))
//
// Every rank makes `moves` transfers between accounts: it takes the two accounts' locks in index
// order, moves one unit of money, releases them. Then every rank takes every lock in shared
// (non-exclusive) mode, reads the balances and checks that the total is what it was. The accounts
// sit on one unit (they are small): under entry consistency the binding, not the unit, decides
// what an acquire brings. Runs under every model (the other models ignore nothing: a lock orders
// all data), built only when the entry model exists.
//   mpirun -np 4 ./entry_locks [moves]
#include <dsm/dsm.hpp>

#include <cstdio>
#include <cstdlib>
#include <deque>
#include <mutex>
#include <shared_mutex>

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const long moves = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 500;
  constexpr int kAccounts = 8;
  constexpr long kStart = 1000;
  const int me = dsm::rank();

  long* account = dsm::alloc<long>(kAccounts);
  std::deque<dsm::mutex> lock;  // lock i guards account[i]
  for (int i = 0; i < kAccounts; ++i) {
    lock.emplace_back(100 + i);
    lock.back().bind(&account[i], sizeof(long));
  }
  for (int i = 0; i < kAccounts; ++i) {  // opening balances, each under its lock
    if (i % dsm::ranks() != me) continue;
    std::lock_guard<dsm::mutex> g(lock[i]);
    account[i] = kStart;
  }
  dsm::barrier();

  unsigned seed = 12345u + static_cast<unsigned>(me);
  for (long k = 0; k < moves; ++k) {
    seed = seed * 1103515245u + 12345u;
    const int from = static_cast<int>((seed >> 8) % kAccounts);
    const int to = static_cast<int>((seed >> 16) % kAccounts);
    if (from == to) continue;
    std::scoped_lock g(lock[from < to ? from : to], lock[from < to ? to : from]);  // index order
    account[from] -= 1;
    account[to] += 1;
  }
  dsm::barrier();

  long total = 0;
  for (int i = 0; i < kAccounts; ++i) {
    std::shared_lock<dsm::mutex> g(lock[i]);  // non-exclusive: readers share the lock
    total += account[i];
  }
  const bool ok = total == kAccounts * kStart;
  std::printf("entry_locks: %s, rank %d: total %ld, expected %ld: %s\n", dsm::model_name(dsm::current_model()), me, total,
              kAccounts * kStart, ok ? "OK" : "FAIL");
  dsm::barrier();
  dsm::free(account);
  return ok ? 0 : 1;
}
