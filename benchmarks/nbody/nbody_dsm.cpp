// nbody_dsm.cpp: N-body with locks in dsm shared memory, in the style of SPLASH-2 Water-nsquared
// (nbody.hpp has the step). Positions, velocities, masses and forces are shared arrays; each rank's
// block of bodies spans whole coherence units. In a step every rank computes its pairs into a
// private array, then adds it into the shared forces one chunk at a time, each chunk under its own
// dsm::mutex (starting at a different chunk on each rank, so the ranks rarely wait for each other),
// and adds its potential energy to the step's sum under another lock; a barrier; each rank moves its
// own bodies, taking the lock of each chunk of forces it reads and clears; a barrier. Each chunk of
// forces is bound to its lock, so the entry model moves it with the lock. Rank 0 checks against the sequential run, untimed.
//   mpirun -np 2 bench_nbody_dsm --size full        (DSM_MODEL picks the model)
#include <dsm/dsm.hpp>

#include <mutex>

#include "nbody.hpp"

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const bench::args args(argc, argv, {"n", "iters"});
  const auto [n, steps] = nbody::pick(args);
  const int me = dsm::rank(), ranks = dsm::ranks();

  const nbody::view s{dsm::alloc<double>(3 * n), dsm::alloc<double>(3 * n), dsm::alloc<double>(3 * n),
                      dsm::alloc<double>(n)};
  double* potential = dsm::alloc<double>(static_cast<std::size_t>(steps));  // one sum per step
  // Blocks of bodies that start on unit boundaries in every array: unit/8 bodies are 3 units of
  // pos/vel/force and one of mass.
  const std::size_t align = dsm::unit_size() / sizeof(double);
  const auto [first, last] = bench::split(n, ranks, me, align);
  nbody::init(s, n, first, last);
  const std::size_t chunk = align;  // bodies per force lock
  const std::size_t chunks = (n + chunk - 1) / chunk;
  constexpr std::uint64_t energy_lock = 1, first_force_lock = 2;
  // Collective: each chunk of forces is bound to its own lock and the energy sums to energy_lock
  // (the entry model moves bound data with its lock; the other models check the binding and ignore
  // it).
  for (std::size_t c = 0; c < chunks; ++c) {
    const std::size_t b = c * chunk, e = std::min(n, b + chunk);
    dsm::mutex{first_force_lock + c}.bind(s.force + 3 * b, 3 * (e - b) * sizeof(double));
  }
  dsm::mutex{energy_lock}.bind(potential, static_cast<std::size_t>(steps) * sizeof(double));
  dsm::barrier();

  std::vector<double> acc;
  const double start = bench::now();
  for (int step = 0; step < steps; ++step) {
    const double pot = nbody::pair_forces(s.pos, s.mass, n, me, ranks, acc);
    for (std::size_t k = 0; k < chunks; ++k) {
      const std::size_t c = (k + static_cast<std::size_t>(me) * chunks / static_cast<std::size_t>(ranks)) % chunks;
      const std::size_t b = c * chunk, e = std::min(n, b + chunk);
      dsm::mutex m{first_force_lock + c};
      std::lock_guard g(m);
      for (std::size_t i = 3 * b; i < 3 * e; ++i) s.force[i] += acc[i];
    }
    {
      dsm::mutex m{energy_lock};
      std::lock_guard g(m);
      potential[step] += pot;
    }
    dsm::barrier();
    // Move this rank's bodies, chunk by chunk under the chunk's lock: the forces are bound data.
    for (std::size_t c = first / chunk; c * chunk < last; ++c) {
      dsm::mutex m{first_force_lock + c};
      std::lock_guard g(m);
      nbody::move(s, std::max(first, c * chunk), std::min(last, (c + 1) * chunk));
    }
    dsm::barrier();
  }
  const double seconds = bench::now() - start;

  int status = 0;
  if (me == 0) {
    bench::result r{"nbody", "dsm", ranks, dsm::model_name(dsm::current_model()), args.size(), seconds};
    std::string why;
    double pot = 0.0;
    {
      dsm::mutex m{energy_lock};
      std::lock_guard g(m);  // bound data: read under its lock
      pot = potential[steps - 1];
    }
    r.check = nbody::verify(n, steps, s.pos, s.vel, s.mass, pot, r.verified, why);
    status = bench::report(r, why);
  }
  dsm::barrier();
  dsm::free(potential);
  dsm::free(s.mass);
  dsm::free(s.force);
  dsm::free(s.vel);
  dsm::free(s.pos);
  return status;
}
