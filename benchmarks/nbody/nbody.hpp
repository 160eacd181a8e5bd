// nbody.hpp: the N-body step that all three versions share, in the style of SPLASH-2 Water-nsquared:
// every pair of bodies interacts once (softened gravity, G = 1), each worker computes the pairs of
// its rows i (i % workers == worker, j > i) into a private force array, then adds it into the shared
// forces chunk by chunk, each chunk under its own lock; the potential energy is added under a lock
// too. After a barrier each worker moves its own block of bodies (symplectic Euler) and clears their
// forces.
//
// The check: positions and energy after `steps` steps against the sequential computation here. The
// order in which workers add their partial forces varies from run to run, so sums can differ in the
// last bits: the tolerance is 1e-12 on every coordinate (coordinates are of order 1) and 1e-11
// relative on the total energy; observed at 1 to 4 workers: up to 6e-17 and 8e-14.
#ifndef DSM_BENCHMARKS_NBODY_HPP_
#define DSM_BENCHMARKS_NBODY_HPP_

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench.hpp"

namespace nbody {

constexpr double dt = 1e-3;
constexpr double soft2 = 1e-2;
constexpr double position_tolerance = 1e-12;  // absolute; coordinates are of order 1
constexpr double energy_tolerance = 1e-11;    // relative

struct sizes {
  std::size_t n;
  int steps;
};

inline sizes pick(const bench::args& a) {
  const sizes s{static_cast<std::size_t>(a.pick("n", 96, 1024, 4096)), static_cast<int>(a.pick("iters", 3, 5, 10))};
  if (s.n < 2 || s.steps < 1) {
    std::fprintf(stderr, "nbody: --n must be at least 2 and --iters at least 1\n");
    std::exit(2);
  }
  return s;
}

// The state: pos, vel, force as 3 doubles per body, mass one double per body.
struct view {
  double* pos;
  double* vel;
  double* force;
  double* mass;
};

// Bodies in the unit cube, at rest, masses 1/n .. 2/n, from a fixed generator.
inline void init(const view& s, std::size_t n, std::size_t first, std::size_t last) {
  for (std::size_t i = first; i < last; ++i) {
    std::uint64_t x = 0x9E3779B97F4A7C15ULL * (i + 1);
    auto next = [&] {
      x ^= x >> 30;
      x *= 0xBF58476D1CE4E5B9ULL;
      x ^= x >> 27;
      x *= 0x94D049BB133111EBULL;
      x ^= x >> 31;
      return static_cast<double>(x >> 11) / 9007199254740992.0;
    };
    for (int d = 0; d < 3; ++d) {
      s.pos[3 * i + d] = next();
      s.vel[3 * i + d] = 0.0;
      s.force[3 * i + d] = 0.0;
    }
    s.mass[i] = (1.0 + next()) / static_cast<double>(n);
  }
}

// The pairs (i, j > i) for i = worker, worker + workers, ...: forces into acc (3n, zeroed here),
// returns the potential energy of those pairs.
inline double pair_forces(const double* pos, const double* mass, std::size_t n, int worker, int workers,
                          std::vector<double>& acc) {
  acc.assign(3 * n, 0.0);
  double pot = 0.0;
  for (std::size_t i = static_cast<std::size_t>(worker); i < n; i += static_cast<std::size_t>(workers)) {
    const double xi = pos[3 * i], yi = pos[3 * i + 1], zi = pos[3 * i + 2], mi = mass[i];
    double fx = 0.0, fy = 0.0, fz = 0.0;
    for (std::size_t j = i + 1; j < n; ++j) {
      const double dx = pos[3 * j] - xi, dy = pos[3 * j + 1] - yi, dz = pos[3 * j + 2] - zi;
      const double r2 = dx * dx + dy * dy + dz * dz + soft2;
      const double inv = 1.0 / std::sqrt(r2);
      const double mm = mi * mass[j];
      const double s = mm * inv * inv * inv;
      fx += s * dx;
      fy += s * dy;
      fz += s * dz;
      acc[3 * j] -= s * dx;
      acc[3 * j + 1] -= s * dy;
      acc[3 * j + 2] -= s * dz;
      pot -= mm * inv;
    }
    acc[3 * i] += fx;
    acc[3 * i + 1] += fy;
    acc[3 * i + 2] += fz;
  }
  return pot;
}

// Moves bodies [first, last) and clears their forces.
inline void move(const view& s, std::size_t first, std::size_t last) {
  for (std::size_t i = first; i < last; ++i) {
    for (int d = 0; d < 3; ++d) {
      s.vel[3 * i + d] += dt * s.force[3 * i + d] / s.mass[i];
      s.pos[3 * i + d] += dt * s.vel[3 * i + d];
      s.force[3 * i + d] = 0.0;
    }
  }
}

inline double kinetic(const double* vel, const double* mass, std::size_t n) {
  double k = 0.0;
  for (std::size_t i = 0; i < n; ++i)
    k += 0.5 * mass[i] * (vel[3 * i] * vel[3 * i] + vel[3 * i + 1] * vel[3 * i + 1] + vel[3 * i + 2] * vel[3 * i + 2]);
  return k;
}

// Checks the final positions and the energy (kinetic after the last step + potential of the last
// force computation) against the sequential run.
inline std::string verify(std::size_t n, int steps, const double* pos, const double* vel, const double* mass,
                          double potential, bool& ok, std::string& why) {
  std::vector<double> p(3 * n), v(3 * n), f(3 * n), m(n), acc;
  const view s{p.data(), v.data(), f.data(), m.data()};
  init(s, n, 0, n);
  double ref_pot = 0.0;
  for (int step = 0; step < steps; ++step) {
    ref_pot = pair_forces(p.data(), m.data(), n, 0, 1, acc);
    std::copy(acc.begin(), acc.end(), f.begin());
    move(s, 0, n);
  }
  double max_diff = 0.0;
  for (std::size_t k = 0; k < 3 * n; ++k) max_diff = std::max(max_diff, std::fabs(pos[k] - p[k]));
  const double energy = kinetic(vel, mass, n) + potential;
  const double ref_energy = kinetic(v.data(), m.data(), n) + ref_pot;
  const double rel = std::fabs(energy - ref_energy) / std::fabs(ref_energy);
  ok = max_diff <= position_tolerance && rel <= energy_tolerance;
  why = bench::format("max |position - sequential| = %.3g (tolerance %g), energy relative difference %.3g "
                      "(tolerance %g)",
                      max_diff, position_tolerance, rel, energy_tolerance);
  return bench::format("n=%zu steps=%d energy=%.8e", n, steps, energy);
}

}  // namespace nbody

#endif  // DSM_BENCHMARKS_NBODY_HPP_
