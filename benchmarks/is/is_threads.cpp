// is_threads.cpp: NAS IS with std::thread in one process, the shared-memory limit, in the same
// steps as the dsm version: each thread counts its slice of the keys into its own row of a count
// table; after a barrier each thread sums the rows over its slice of key values and publishes the
// slice total; after a second barrier it writes its slice of key_buff; a third barrier ends the
// iteration, and thread 0 runs the partial verification.
//   bench_is_threads --size full --threads 2
#include <barrier>
#include <thread>

#include "is.hpp"

int main(int argc, char** argv) {
  const bench::args args(argc, argv, {"class"});
  const is::klass& c = is::pick(args);
  const int threads = args.threads();
  const long n = c.total_keys();
  const std::size_t max_key = static_cast<std::size_t>(c.max_key());

  std::vector<int> keys(static_cast<std::size_t>(n));
  is::generate(c, 0, n, keys.data());
  std::vector<int> counts(static_cast<std::size_t>(threads) * max_key), key_buff(max_key);
  std::vector<long> totals(static_cast<std::size_t>(threads));
  std::barrier sync(threads);
  is::verifier check(c);

  auto iteration = [&](int t, int it, bool verify) {
    const auto [kb, ke] = bench::split(static_cast<std::size_t>(n), threads, t);
    const auto [vb, ve] = bench::split(max_key, threads, t);
    for (int w = 0; w < 2; ++w) {
      const auto i = static_cast<std::size_t>(is::changed_index(it, w));
      if (i >= kb && i < ke) keys[i] = is::changed_value(c, it, w);
    }
    int* row = &counts[static_cast<std::size_t>(t) * max_key];
    std::fill(row, row + max_key, 0);
    for (std::size_t i = kb; i < ke; ++i) ++row[keys[i]];
    sync.arrive_and_wait();
    std::vector<int> prefix(ve - vb);
    long run = 0;
    for (std::size_t v = vb; v < ve; ++v) {
      for (int r = 0; r < threads; ++r) run += counts[static_cast<std::size_t>(r) * max_key + v];
      prefix[v - vb] = static_cast<int>(run);
    }
    totals[static_cast<std::size_t>(t)] = run;
    sync.arrive_and_wait();
    long offset = 0;
    for (int r = 0; r < t; ++r) offset += totals[static_cast<std::size_t>(r)];
    for (std::size_t v = vb; v < ve; ++v) key_buff[v] = prefix[v - vb] + static_cast<int>(offset);
    sync.arrive_and_wait();
    if (t == 0 && verify) {
      int test_keys[5];
      for (int i = 0; i < 5; ++i) test_keys[i] = keys[static_cast<std::size_t>(c.test_index[i])];
      check.partial(it, test_keys, [&](long v) { return key_buff[static_cast<std::size_t>(v)]; });
    }
  };

  auto run = [&](bool timed) {
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&, t] {
        if (!timed) {
          iteration(t, 1, false);  // NAS's untimed first iteration
          return;
        }
        for (int it = 1; it <= is::iterations; ++it) iteration(t, it, true);
      });
    }
    for (auto& th : pool) th.join();
  };
  run(false);
  const double start = bench::now();
  run(true);
  const double seconds = bench::now() - start;

  bench::result r{"is", "threads", threads, "", args.size(), seconds};
  std::string why;
  r.check = check.full(keys.data(), key_buff.data(), r.verified, why);
  return bench::report(r, why);
}
