// tsp.hpp: the travelling-salesman branch and bound that all three versions share: the cities, the
// work (one task per tour prefix 0 -> a -> b), the depth-first search of one task, and the check.
//
// Cities are points on a 1000 x 1000 grid from a fixed linear congruential generator; distances are
// rounded Euclidean integers. The search starts from the nearest-neighbour tour's length and
// prunes a partial tour when its length plus, for the current and every unvisited city, the
// cheapest edge leaving it, cannot beat the best tour so far. The answer, the optimal length, is an
// integer: every version must find exactly the length the sequential search finds, and its tour
// must be a permutation of the cities whose length is that number.
#ifndef DSM_BENCHMARKS_TSP_HPP_
#define DSM_BENCHMARKS_TSP_HPP_

#include <algorithm>
#include <climits>
#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench.hpp"

namespace tsp {

constexpr int max_cities = 24;

struct problem {
  int n = 0;
  std::vector<int> dist;      // n x n
  std::vector<int> min_edge;  // cheapest edge leaving each city
  std::vector<std::vector<int>> by_distance;  // each city's neighbours, nearest first
  int at(int a, int b) const { return dist[static_cast<std::size_t>(a * n + b)]; }
  int tasks() const { return (n - 1) * (n - 2); }
};

inline problem make(int n) {
  problem p;
  p.n = n;
  std::uint64_t s = 20261123;
  auto next = [&] {
    s = s * 6364136223846793005ULL + 1442695040888963407ULL;
    return static_cast<double>((s >> 33) % 1000);
  };
  std::vector<double> x(static_cast<std::size_t>(n)), y(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    x[static_cast<std::size_t>(i)] = next();
    y[static_cast<std::size_t>(i)] = next();
  }
  p.dist.resize(static_cast<std::size_t>(n * n));
  p.min_edge.assign(static_cast<std::size_t>(n), INT_MAX);
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < n; ++j) {
      const double dx = x[static_cast<std::size_t>(i)] - x[static_cast<std::size_t>(j)];
      const double dy = y[static_cast<std::size_t>(i)] - y[static_cast<std::size_t>(j)];
      const int d = static_cast<int>(std::lround(std::sqrt(dx * dx + dy * dy)));
      p.dist[static_cast<std::size_t>(i * n + j)] = d;
      if (i != j) p.min_edge[static_cast<std::size_t>(i)] = std::min(p.min_edge[static_cast<std::size_t>(i)], d);
    }
  p.by_distance.resize(static_cast<std::size_t>(n));
  for (int i = 0; i < n; ++i) {
    auto& v = p.by_distance[static_cast<std::size_t>(i)];
    for (int j = 0; j < n; ++j)
      if (j != i) v.push_back(j);
    std::stable_sort(v.begin(), v.end(), [&](int a, int b) { return p.at(i, a) < p.at(i, b); });
  }
  return p;
}

inline int pick(const bench::args& a) {
  const int n = static_cast<int>(a.pick("n", 10, 16, 19));
  if (n < 4 || n > max_cities) {
    std::fprintf(stderr, "tsp: --n must be in [4, %d]\n", max_cities);
    std::exit(2);
  }
  return n;
}

// A tour: its length and the cities in order, starting at city 0.
struct tour {
  int length = INT_MAX;
  int city[max_cities] = {};
};

inline int length_of(const problem& p, const int* city) {
  int len = 0;
  for (int i = 0; i < p.n; ++i) len += p.at(city[i], city[(i + 1) % p.n]);
  return len;
}

// The nearest-neighbour tour from city 0: the starting bound of every version.
inline tour nearest_neighbour(const problem& p) {
  tour t;
  std::vector<bool> seen(static_cast<std::size_t>(p.n), false);
  seen[0] = true;
  for (int k = 1; k < p.n; ++k) {
    for (int c : p.by_distance[static_cast<std::size_t>(t.city[k - 1])])
      if (!seen[static_cast<std::size_t>(c)]) {
        t.city[k] = c;
        seen[static_cast<std::size_t>(c)] = true;
        break;
      }
  }
  t.length = length_of(p, t.city);
  return t;
}

// Searches every tour that starts 0 -> a -> b for task number `task` in [0, tasks()). `bound()`
// returns the best length known now (the search reads it at every node); `improve(t)` is called
// with each tour shorter than the bound the search saw. Returns the number of nodes visited.
template <class Bound, class Improve>
long search_task(const problem& p, int task, Bound bound, Improve improve) {
  const int n = p.n;
  const int a = 1 + task / (n - 2);
  int b = 1 + task % (n - 2);
  if (b >= a) ++b;
  tour t;
  t.city[0] = 0;
  t.city[1] = a;
  t.city[2] = b;
  std::uint32_t visited = 1u | (1u << a) | (1u << b);
  int rest = 0;  // the sum of min_edge over unvisited cities
  for (int c = 0; c < n; ++c)
    if (!(visited & (1u << c))) rest += p.min_edge[static_cast<std::size_t>(c)];
  long nodes = 0;
  auto dfs = [&](auto&& self, int depth, int len, int rest_left) -> void {
    ++nodes;
    const int cur = t.city[depth - 1];
    if (depth == n) {
      const int total = len + p.at(cur, 0);
      if (total < bound()) {
        t.length = total;
        improve(t);
      }
      return;
    }
    if (len + p.min_edge[static_cast<std::size_t>(cur)] + rest_left >= bound()) return;
    for (int c : p.by_distance[static_cast<std::size_t>(cur)]) {
      if (visited & (1u << c)) continue;
      visited |= 1u << c;
      t.city[depth] = c;
      self(self, depth + 1, len + p.at(cur, c), rest_left - p.min_edge[static_cast<std::size_t>(c)]);
      visited &= ~(1u << c);
    }
  };
  dfs(dfs, 3, p.at(0, a) + p.at(a, b), rest);
  return nodes;
}

// The sequential search, for the check.
inline int reference(const problem& p) {
  int best = nearest_neighbour(p).length;
  for (int task = 0; task < p.tasks(); ++task)
    search_task(p, task, [&] { return best; }, [&](const tour& t) { best = t.length; });
  return best;
}

// Checks the tour a version found: a permutation starting at 0, its length as stated, and that
// length the optimum the sequential search finds.
inline std::string verify(const problem& p, const tour& t, bool& ok, std::string& why) {
  const int expected = reference(p);
  std::vector<bool> seen(static_cast<std::size_t>(p.n), false);
  bool perm = t.city[0] == 0;
  for (int i = 0; i < p.n; ++i) {
    const int c = t.city[i];
    perm = perm && c >= 0 && c < p.n && !seen[static_cast<std::size_t>(c)];
    if (c >= 0 && c < p.n) seen[static_cast<std::size_t>(c)] = true;
  }
  const int actual = perm ? length_of(p, t.city) : -1;
  ok = perm && actual == t.length && t.length == expected;
  why = bench::format("tour %s, stated length %d, its length %d, sequential optimum %d",
                      perm ? "is a permutation" : "is NOT a permutation", t.length, actual, expected);
  return bench::format("n=%d optimal=%d", p.n, t.length);
}

}  // namespace tsp

#endif  // DSM_BENCHMARKS_TSP_HPP_
