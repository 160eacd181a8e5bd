// hello: the smallest complete dsm program. Every rank writes its own slice of one shared array with
// ordinary stores, a barrier makes all the writes visible, and then every rank reads the whole array
// with ordinary loads and checks every value. It shows the three calls almost every dsm program
// makes: the runtime object (collective init/finalize), dsm::alloc (collective, the same pointer on
// every rank) and dsm::barrier (collective). Run it with `mpirun -np 4 ./hello [values-per-rank]`.
#include <dsm/dsm.hpp>

#include <cstdio>
#include <cstdlib>

namespace {

// The value rank r stores at index i of its slice: distinct for every (rank, index).
long expected_value(int r, std::size_t i) { return 1000003L * r + static_cast<long>(i) + 1; }

}  // namespace

int main(int argc, char** argv) {
  dsm::runtime rt(argc, argv);  // collective; removes --dsm-* flags from argv
  const std::size_t per_rank = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 4096;
  const int me = dsm::rank();
  const int n = dsm::ranks();

  // Collective: zero-filled, and the same address on every rank.
  long* values = dsm::alloc<long>(per_rank * static_cast<std::size_t>(n));
  // One verdict slot per rank, so that every rank learns every other rank's result.
  int* errors = dsm::alloc<int>(static_cast<std::size_t>(n));

  // Each rank writes only its own slice.
  for (std::size_t i = 0; i < per_rank; ++i) values[static_cast<std::size_t>(me) * per_rank + i] = expected_value(me, i);

  dsm::barrier();  // every write above is visible to every rank after this

  // Every rank reads all slices, its own and the others'.
  int wrong = 0;
  for (int r = 0; r < n; ++r)
    for (std::size_t i = 0; i < per_rank; ++i)
      if (values[static_cast<std::size_t>(r) * per_rank + i] != expected_value(r, i)) ++wrong;
  errors[me] = wrong;

  dsm::barrier();

  int total_wrong = 0;
  for (int r = 0; r < n; ++r) total_wrong += errors[r];
  if (me == 0)
    std::printf("hello: %d ranks, %zu values written, read back by every rank, %d wrong: %s\n", n,
                per_rank * static_cast<std::size_t>(n), total_wrong, total_wrong == 0 ? "OK" : "FAIL");

  dsm::barrier();  // nobody frees while another rank still reads the verdicts
  dsm::free(errors);
  dsm::free(values);
  return total_wrong == 0 ? 0 : 1;
}
