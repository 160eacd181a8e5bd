// is.hpp: the integer sort of the NAS Parallel Benchmarks (IS) that all three versions share: the
// classes, NAS's key generator (randlc, with the seed of any key position found by NAS's jump-ahead,
// so a rank generates exactly its own slice), and NAS's two verifications.
//
// Each of the 10 timed iterations changes two keys (key[it] = it, key[it + 10] = max_key - it),
// counts how many keys take each value, and turns the counts into key_buff[v] = the number of keys
// <= v: the rank of every key. The partial verification checks the rank of five test keys in every
// iteration against NAS's published values; the full verification sorts the keys with the final
// ranks and checks the order. Passed: 5 x 10 + 1 = 51 checks, as NAS counts them. The check string
// adds the sum of the final key_buff, which every version must print identically.
#ifndef DSM_BENCHMARKS_IS_HPP_
#define DSM_BENCHMARKS_IS_HPP_

#include <cmath>
#include <cstdint>
#include <string>
#include <vector>

#include "bench.hpp"

namespace is {

constexpr int iterations = 10;

struct klass {
  char name;
  int total_keys_log2;
  int max_key_log2;
  long test_index[5];
  long test_rank[5];
  long total_keys() const { return 1L << total_keys_log2; }
  int max_key() const { return 1 << max_key_log2; }
};

// NAS classes S, W, A (NPB 3.x is.c).
inline const klass& pick(const bench::args& a) {
  static const klass S{'S', 16, 11, {48427, 17148, 23627, 62548, 4431}, {0, 18, 346, 64917, 65463}};
  static const klass W{'W', 20, 16, {357773, 934767, 875723, 898999, 404505}, {1249, 11698, 1039987, 1043896, 1048018}};
  static const klass A{
      'A', 23, 19, {2112377, 662041, 5336171, 3642833, 4250760}, {104, 17523, 123928, 8288932, 8388264}};
  const std::string c = a.get("class", a.size() == "test" ? "S" : a.size() == "quick" ? "W" : "A");
  if (c == "S") return S;
  if (c == "W") return W;
  if (c == "A") return A;
  std::fprintf(stderr, "is: --class %s: valid: S, W, A\n", c.c_str());
  std::exit(2);
}

// NAS's randlc: x = a * x mod 2^46, returns x / 2^46. Exact in double.
inline double randlc(double* x, double a) {
  const double r23 = std::ldexp(1.0, -23), r46 = std::ldexp(1.0, -46);
  const double t23 = std::ldexp(1.0, 23), t46 = std::ldexp(1.0, 46);
  double t1 = r23 * a;
  const double a1 = static_cast<int>(t1), a2 = a - t23 * a1;
  t1 = r23 * *x;
  const double x1 = static_cast<int>(t1), x2 = *x - t23 * x1;
  t1 = a1 * x2 + a2 * x1;
  const double t2 = static_cast<int>(r23 * t1);
  const double z = t1 - t23 * t2;
  const double t3 = t23 * z + a2 * x2;
  const double t4 = static_cast<int>(r46 * t3);
  *x = t3 - t46 * t4;
  return r46 * *x;
}

constexpr double seed = 314159265.0;
constexpr double mult = 1220703125.0;

// The generator's state before key `first` (each key takes four numbers): NAS's find_my_seed.
inline double seed_at(long first) {
  double t1 = seed, t2 = mult;
  long kk = 4 * first;
  if (kk == 0) return seed;
  while (kk > 1) {
    const long ik = kk / 2;
    if (2 * ik == kk) {
      randlc(&t2, t2);
      kk = ik;
    } else {
      randlc(&t1, t2);
      kk = kk - 1;
    }
  }
  randlc(&t1, t2);
  return t1;
}

// Keys [first, last) of the sequence into out[0 .. last - first).
inline void generate(const klass& c, long first, long last, int* out) {
  double x = seed_at(first);
  const int k = c.max_key() / 4;
  for (long i = first; i < last; ++i) {
    double s = randlc(&x, mult);
    s += randlc(&x, mult);
    s += randlc(&x, mult);
    s += randlc(&x, mult);
    out[i - first] = static_cast<int>(k * s);
  }
}

// The two keys iteration `it` changes, as (index, value).
inline long changed_index(int it, int which) { return which == 0 ? it : it + iterations; }
inline int changed_value(const klass& c, int it, int which) { return which == 0 ? it : c.max_key() - it; }

// NAS's bookkeeping of both verifications; rank 0 keeps one.
class verifier {
 public:
  explicit verifier(const klass& c) : c_(c) {}

  // The keys at the five test positions, read after this iteration changed its two keys.
  // Iteration `it` then calls partial(it, rank_of) with rank_of(v) = key_buff[v].
  template <class RankOf>
  void partial(int it, const int test_keys[5], RankOf rank_of) {
    for (int i = 0; i < 5; ++i) {
      const long k = test_keys[i];
      if (!(0 < k && k <= c_.total_keys() - 1)) continue;
      const long key_rank = rank_of(k - 1);
      long expected = 0;
      switch (c_.name) {
        case 'S': expected = i <= 2 ? c_.test_rank[i] + it : c_.test_rank[i] - it; break;
        case 'W': expected = i < 2 ? c_.test_rank[i] + (it - 2) : c_.test_rank[i] - it; break;
        default: expected = i <= 2 ? c_.test_rank[i] + (it - 1) : c_.test_rank[i] - (it - 1); break;
      }
      if (key_rank == expected) {
        ++passed_;
      } else if (why_.empty()) {
        why_ = bench::format("partial verification: iteration %d, test key %d: rank %ld, NAS says %ld", it, i, key_rank,
                             expected);
      }
    }
  }

  // NAS's full verification: place every key by its rank, check the order. key_buff is copied.
  std::string full(const int* keys, const int* key_buff, bool& ok, std::string& why) {
    const long n = c_.total_keys();
    std::vector<int> next(key_buff, key_buff + c_.max_key());
    std::vector<int> sorted(static_cast<std::size_t>(n), -1);
    bool placed = true;
    for (long i = 0; i < n; ++i) {
      const int k = keys[i];
      if (k < 0 || k >= c_.max_key() || next[static_cast<std::size_t>(k)] <= 0) {
        placed = false;
        break;
      }
      sorted[static_cast<std::size_t>(--next[static_cast<std::size_t>(k)])] = k;
    }
    long out_of_order = 0;
    for (std::size_t i = 1; placed && i < sorted.size(); ++i) out_of_order += sorted[i - 1] > sorted[i];
    if (placed && out_of_order == 0) {
      ++passed_;
    } else if (why_.empty()) {
      why_ = placed ? bench::format("full verification: %ld keys out of order", out_of_order)
                    : std::string("full verification: a key's rank is out of range");
    }
    std::uint64_t sum = 0;
    for (int v = 0; v < c_.max_key(); ++v) sum += static_cast<std::uint64_t>(key_buff[v]);
    ok = passed_ == 5 * iterations + 1;
    why = why_.empty() ? bench::format("%d checks passed, NAS needs %d", passed_, 5 * iterations + 1) : why_;
    return bench::format("class=%c passed=%d/%d key_buff_sum=%llu", c_.name, passed_, 5 * iterations + 1,
                         static_cast<unsigned long long>(sum));
  }

 private:
  const klass& c_;
  int passed_ = 0;
  std::string why_;
};

}  // namespace is

#endif  // DSM_BENCHMARKS_IS_HPP_
