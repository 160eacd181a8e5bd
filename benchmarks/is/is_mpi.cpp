// is_mpi.cpp: NAS IS as an MPI programmer writes it instead: each rank generates and keeps its
// slice of the keys; an iteration counts the slice into a private histogram, sums the histograms
// of all ranks with MPI_Allreduce and turns the sum into key_buff (every rank holds all of it).
// Rank 0 runs NAS's partial verification each iteration (the test keys are gathered once, before
// the timed region; an iteration changes only keys 1..20) and, after gathering the keys, the full
// verification.
//   mpirun -np 2 bench_is_mpi --size full
#include <mpi.h>

#include "is.hpp"

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const bench::args args(argc, argv, {"class"});
  const is::klass& c = is::pick(args);
  int me = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);
  const long n = c.total_keys();
  const std::size_t max_key = static_cast<std::size_t>(c.max_key());

  const auto [kb, ke] = bench::split(static_cast<std::size_t>(n), ranks, me);
  std::vector<int> keys(ke - kb);
  is::generate(c, static_cast<long>(kb), static_cast<long>(ke), keys.data());
  // The five test keys as generated, to rank 0.
  int generated[5], test_base[5];
  for (int i = 0; i < 5; ++i) {
    const auto at = static_cast<std::size_t>(c.test_index[i]);
    generated[i] = at >= kb && at < ke ? keys[at - kb] : -1;
  }
  MPI_Reduce(generated, test_base, 5, MPI_INT, MPI_MAX, 0, MPI_COMM_WORLD);

  is::verifier check(c);
  std::vector<int> hist(max_key), key_buff(max_key);
  auto iteration = [&](int it, bool verify) {
    for (int w = 0; w < 2; ++w) {
      const auto i = static_cast<std::size_t>(is::changed_index(it, w));
      if (i >= kb && i < ke) keys[i - kb] = is::changed_value(c, it, w);
    }
    std::fill(hist.begin(), hist.end(), 0);
    for (int k : keys) ++hist[static_cast<std::size_t>(k)];
    MPI_Allreduce(hist.data(), key_buff.data(), static_cast<int>(max_key), MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    for (std::size_t v = 1; v < max_key; ++v) key_buff[v] += key_buff[v - 1];
    if (me == 0 && verify) {
      int test_keys[5];
      for (int i = 0; i < 5; ++i) {
        test_keys[i] = test_base[i];
        for (int w = 0; w < 2; ++w)
          if (c.test_index[i] == is::changed_index(it, w)) test_keys[i] = is::changed_value(c, it, w);
      }
      check.partial(it, test_keys, [&](long v) { return key_buff[static_cast<std::size_t>(v)]; });
    }
  };

  iteration(1, false);  // NAS's untimed first iteration
  MPI_Barrier(MPI_COMM_WORLD);
  const double start = bench::now();
  for (int it = 1; it <= is::iterations; ++it) iteration(it, true);
  MPI_Barrier(MPI_COMM_WORLD);
  const double seconds = bench::now() - start;

  // Untimed: every key to rank 0 for the full verification.
  std::vector<int> counts(static_cast<std::size_t>(ranks)), displs(static_cast<std::size_t>(ranks));
  for (int r = 0; r < ranks; ++r) {
    const auto [b, e] = bench::split(static_cast<std::size_t>(n), ranks, r);
    counts[static_cast<std::size_t>(r)] = static_cast<int>(e - b);
    displs[static_cast<std::size_t>(r)] = static_cast<int>(b);
  }
  std::vector<int> all(me == 0 ? static_cast<std::size_t>(n) : 0);
  MPI_Gatherv(keys.data(), static_cast<int>(keys.size()), MPI_INT, all.data(), counts.data(), displs.data(), MPI_INT, 0,
              MPI_COMM_WORLD);
  int status = 0;
  if (me == 0) {
    bench::result r{"is", "mpi", ranks, "", args.size(), seconds};
    std::string why;
    r.check = check.full(all.data(), key_buff.data(), r.verified, why);
    status = bench::report(r, why);
  }
  MPI_Finalize();
  return status;
}
