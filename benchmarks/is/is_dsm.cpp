// is_dsm.cpp: NAS IS in dsm shared memory, written so that each rank writes only its own units.
// The keys live in one shared array, each rank generating and owning a slice. An iteration:
// 1. each rank counts its keys privately and publishes the counts of the other ranks' slices of
//    key values in its own row of a shared count table (rows padded to whole coherence units),
//    barrier;
// 2. each rank sums the rows over its slice of key values (reading the other ranks' rows from
//    shared memory) and publishes its slice total in its own unit, barrier;
// 3. each rank adds the totals of the slices before its own and writes its slice of key_buff,
//    barrier; rank 0 runs NAS's partial verification.
// Rank 0 runs NAS's full verification after the timed region.
//   mpirun -np 2 bench_is_dsm --size full        (DSM_MODEL picks the model)
#include <dsm/dsm.hpp>

#include "is.hpp"

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);
  const bench::args args(argc, argv, {"class"});
  const is::klass& c = is::pick(args);
  const int me = dsm::rank(), ranks = dsm::ranks();
  const long n = c.total_keys();
  const std::size_t max_key = static_cast<std::size_t>(c.max_key());
  const std::size_t per_unit = dsm::unit_size() / sizeof(int);
  const std::size_t stride = (max_key + per_unit - 1) / per_unit * per_unit;  // a count row, whole units

  int* keys = dsm::alloc<int>(static_cast<std::size_t>(n));
  int* counts = dsm::alloc<int>(static_cast<std::size_t>(ranks) * stride);
  int* key_buff = dsm::alloc<int>(max_key);
  long* totals = dsm::alloc<long>(static_cast<std::size_t>(ranks) * per_unit);  // one unit per rank
  const auto [kb, ke] = bench::split(static_cast<std::size_t>(n), ranks, me, per_unit);
  const auto [vb, ve] = bench::split(max_key, ranks, me, per_unit);
  is::generate(c, static_cast<long>(kb), static_cast<long>(ke), keys + kb);
  dsm::barrier();

  is::verifier check(c);
  std::vector<int> hist(max_key), prefix(ve - vb);
  auto iteration = [&](int it, bool verify) {
    for (int w = 0; w < 2; ++w) {
      const auto i = static_cast<std::size_t>(is::changed_index(it, w));
      if (i >= kb && i < ke) keys[i] = is::changed_value(c, it, w);
    }
    std::fill(hist.begin(), hist.end(), 0);
    for (std::size_t i = kb; i < ke; ++i) ++hist[static_cast<std::size_t>(keys[i])];
    // Publish the counts the other ranks sum; this rank's own slice of values stays private.
    int* row = counts + static_cast<std::size_t>(me) * stride;
    std::copy(hist.begin(), hist.begin() + static_cast<std::ptrdiff_t>(vb), row);
    std::copy(hist.begin() + static_cast<std::ptrdiff_t>(ve), hist.end(), row + ve);
    dsm::barrier();
    long run = 0;
    for (std::size_t v = vb; v < ve; ++v) {
      for (int r = 0; r < ranks; ++r) run += r == me ? hist[v] : counts[static_cast<std::size_t>(r) * stride + v];
      prefix[v - vb] = static_cast<int>(run);
    }
    totals[static_cast<std::size_t>(me) * per_unit] = run;
    dsm::barrier();
    long offset = 0;
    for (int r = 0; r < me; ++r) offset += totals[static_cast<std::size_t>(r) * per_unit];
    for (std::size_t v = vb; v < ve; ++v) key_buff[v] = prefix[v - vb] + static_cast<int>(offset);
    dsm::barrier();
    if (me == 0 && verify) {
      int test_keys[5];
      for (int i = 0; i < 5; ++i) test_keys[i] = keys[c.test_index[i]];
      check.partial(it, test_keys, [&](long v) { return key_buff[v]; });
    }
  };

  iteration(1, false);  // NAS's untimed first iteration
  const double start = bench::now();
  for (int it = 1; it <= is::iterations; ++it) iteration(it, true);
  const double seconds = bench::now() - start;

  int status = 0;
  if (me == 0) {
    bench::result r{"is", "dsm", ranks, dsm::model_name(dsm::current_model()), args.size(), seconds};
    std::string why;
    r.check = check.full(keys, key_buff, r.verified, why);
    status = bench::report(r, why);
  }
  dsm::barrier();
  dsm::free(totals);
  dsm::free(key_buff);
  dsm::free(counts);
  dsm::free(keys);
  return status;
}
