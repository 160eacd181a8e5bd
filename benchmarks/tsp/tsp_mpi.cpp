// tsp_mpi.cpp: TSP branch and bound as an MPI programmer writes it instead: the tasks are dealt out
// cyclically (task t to rank t % ranks), and a rank that finds a shorter tour sends its length to
// every other rank, which picks such messages up (MPI_Iprobe) before each task. At the end the best
// length is found with MPI_Allreduce (MINLOC) and its owner sends the tour to rank 0, which checks
// it against the sequential search (tsp.hpp), untimed.
//   mpirun -np 2 bench_tsp_mpi --size full
#include <mpi.h>

#include "tsp.hpp"

namespace {
constexpr int bound_tag = 1;
constexpr int tour_tag = 2;
}  // namespace

int main(int argc, char** argv) {
  MPI_Init(&argc, &argv);
  const bench::args args(argc, argv, {"n"});
  const tsp::problem p = tsp::make(tsp::pick(args));
  int me = 0, ranks = 1;
  MPI_Comm_rank(MPI_COMM_WORLD, &me);
  MPI_Comm_size(MPI_COMM_WORLD, &ranks);

  tsp::tour best = tsp::nearest_neighbour(p);
  int bound = best.length;
  std::vector<int> sent(static_cast<std::size_t>(ranks), 0);  // bound messages sent to each rank
  int received = 0;
  auto drain = [&] {
    int flag = 1;
    while (flag) {
      MPI_Status st;
      MPI_Iprobe(MPI_ANY_SOURCE, bound_tag, MPI_COMM_WORLD, &flag, &st);
      if (!flag) break;
      int len = 0;
      MPI_Recv(&len, 1, MPI_INT, st.MPI_SOURCE, bound_tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
      ++received;
      bound = std::min(bound, len);
    }
  };
  MPI_Barrier(MPI_COMM_WORLD);

  const double start = bench::now();
  for (int task = me; task < p.tasks(); task += ranks) {
    drain();
    tsp::search_task(p, task, [&] { return bound; }, [&](const tsp::tour& found) {
      best = found;
      bound = found.length;
      for (int r = 0; r < ranks; ++r) {
        if (r == me) continue;
        MPI_Send(&bound, 1, MPI_INT, r, bound_tag, MPI_COMM_WORLD);
        ++sent[static_cast<std::size_t>(r)];
      }
    });
  }
  // Receive every bound message still in flight, so that none is left at finalize.
  std::vector<int> incoming(static_cast<std::size_t>(ranks), 0);
  MPI_Alltoall(sent.data(), 1, MPI_INT, incoming.data(), 1, MPI_INT, MPI_COMM_WORLD);
  int expected = 0;
  for (int c : incoming) expected += c;
  while (received < expected) {
    int len = 0;
    MPI_Recv(&len, 1, MPI_INT, MPI_ANY_SOURCE, bound_tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
    ++received;
  }
  struct {
    int length;
    int rank;
  } mine{best.length, me}, winner{0, 0};
  MPI_Allreduce(&mine, &winner, 1, MPI_2INT, MPI_MINLOC, MPI_COMM_WORLD);
  const double seconds = bench::now() - start;

  // Untimed: the winner's tour to rank 0.
  if (winner.rank != 0) {
    if (me == winner.rank) MPI_Send(&best, sizeof best, MPI_BYTE, 0, tour_tag, MPI_COMM_WORLD);
    if (me == 0) MPI_Recv(&best, sizeof best, MPI_BYTE, winner.rank, tour_tag, MPI_COMM_WORLD, MPI_STATUS_IGNORE);
  }
  int status = 0;
  if (me == 0) {
    bench::result r{"tsp", "mpi", ranks, "", args.size(), seconds};
    std::string why;
    r.check = tsp::verify(p, best, r.verified, why);
    status = bench::report(r, why);
  }
  MPI_Finalize();
  return status;
}
