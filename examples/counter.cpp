// counter: a global lock protecting a shared counter. Every rank increments one shared long many
// times, each increment inside a std::lock_guard on a dsm::mutex, so the increments of different
// ranks never overlap; after a barrier the total must be exactly ranks x increments. It shows that a
// dsm::mutex is a standard Lockable (std::lock_guard, std::scoped_lock, std::unique_lock work) and
// that a lock orders the accesses to the data it protects under every model.
// Run it with `mpirun -np 4 ./counter [increments-per-rank]`.
#include <dsm/dsm.hpp>

#include <cstdio>
#include <cstdlib>
#include <mutex>

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const long per_rank = argc > 1 ? std::strtol(argv[1], nullptr, 10) : 1000;
  const int n = dsm::ranks();

  long* counter = dsm::alloc<long>(1);  // collective, starts at 0
  dsm::mutex lock{1};                   // lock 1 names the same lock on every rank
  lock.bind(counter, sizeof *counter);  // collective: the counter travels with lock 1 (entry consistency)

  for (long i = 0; i < per_rank; ++i) {
    std::lock_guard<dsm::mutex> guard(lock);
    *counter += 1;  // a plain read-modify-write, made safe by the lock
  }

  dsm::barrier();  // all increments are done

  const long expected = per_rank * n;
  long total = 0;
  {
    // Under entry consistency bound data is up to date only under its lock; the other models
    // would show the total after the barrier alone.
    std::lock_guard<dsm::mutex> guard(lock);
    total = *counter;  // every rank reads the same total
  }
  if (dsm::rank() == 0)
    std::printf("counter: %d ranks, %ld increments, expected %ld: %s\n", n, total, expected,
                total == expected ? "OK" : "FAIL");

  dsm::barrier();
  dsm::free(counter);
  return total == expected ? 0 : 1;
}
