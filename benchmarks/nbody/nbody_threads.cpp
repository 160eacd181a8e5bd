// nbody_threads.cpp: the N-body step with std::thread in one process, the shared-memory limit: the
// same pairs, the same chunked force adds under one std::mutex per chunk, and the same barriers as
// the dsm version.
//   bench_nbody_threads --size full --threads 2
#include <barrier>
#include <memory>
#include <mutex>
#include <thread>

#include "nbody.hpp"

int main(int argc, char** argv) {
  const bench::args args(argc, argv, {"n", "iters"});
  const auto [n, steps] = nbody::pick(args);
  const int threads = args.threads();

  std::vector<double> pos(3 * n), vel(3 * n), force(3 * n), mass(n), potential(static_cast<std::size_t>(steps), 0.0);
  const nbody::view s{pos.data(), vel.data(), force.data(), mass.data()};
  nbody::init(s, n, 0, n);
  const std::size_t chunk = 512;
  const std::size_t chunks = (n + chunk - 1) / chunk;
  std::unique_ptr<std::mutex[]> force_lock(new std::mutex[chunks]);
  std::mutex energy_lock;
  std::barrier sync(threads);

  const double start = bench::now();
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&, t] {
      const auto [first, last] = bench::split(n, threads, t);
      std::vector<double> acc;
      for (int step = 0; step < steps; ++step) {
        const double pot = nbody::pair_forces(pos.data(), mass.data(), n, t, threads, acc);
        for (std::size_t k = 0; k < chunks; ++k) {
          const std::size_t c = (k + static_cast<std::size_t>(t) * chunks / static_cast<std::size_t>(threads)) % chunks;
          const std::size_t b = c * chunk, e = std::min(n, b + chunk);
          std::lock_guard g(force_lock[c]);
          for (std::size_t i = 3 * b; i < 3 * e; ++i) force[i] += acc[i];
        }
        {
          std::lock_guard g(energy_lock);
          potential[static_cast<std::size_t>(step)] += pot;
        }
        sync.arrive_and_wait();
        nbody::move(s, first, last);
        sync.arrive_and_wait();
      }
    });
  }
  for (auto& th : pool) th.join();
  const double seconds = bench::now() - start;

  bench::result r{"nbody", "threads", threads, "", args.size(), seconds};
  std::string why;
  r.check = nbody::verify(n, steps, pos.data(), vel.data(), mass.data(), potential.back(), r.verified, why);
  return bench::report(r, why);
}
