// mpi_test_main.cpp: the GoogleTest main for test binaries that run under mpirun.
//
// Every rank constructs one dsm::runtime (which initialises MPI and removes --dsm-* flags), runs the
// same tests in the same order, and takes part in every collective the tests make. Only rank 0 keeps
// GoogleTest's console printer, so the job prints one report; other ranks print only their own
// failures, prefixed with their rank, so a failure seen by one rank alone is not lost. The exit
// status is combined with MPI_Allreduce: if any rank failed any test, every rank exits non-zero. With
// --gtest_shuffle the random seed is taken from rank 0 so that all ranks run the tests in one order.
#include <gtest/gtest.h>
#include <mpi.h>

#include <cstdio>
#include <ctime>
#include <string>

#include "dsm/dsm.hpp"

namespace {

// Prints this rank's failed assertions to stderr, one line each. Installed on ranks other than 0,
// whose default printer is removed.
class rank_failure_printer : public ::testing::EmptyTestEventListener {
 public:
  explicit rank_failure_printer(int rank) : rank_(rank) {}

  // GoogleTest holds its own lock while it calls OnTestPartResult, so the test's name is kept from
  // OnTestStart rather than asked for (UnitTest::current_test_info() would deadlock).
  void OnTestStart(const ::testing::TestInfo& test) override {
    test_ = std::string(test.test_suite_name()) + "." + test.name();
  }

  void OnTestPartResult(const ::testing::TestPartResult& result) override {
    if (!result.failed()) return;
    std::fprintf(stderr, "[rank %d] %s failed at %s:%d\n%s\n", rank_, test_.c_str(),
                 result.file_name() != nullptr ? result.file_name() : "?", result.line_number(),
                 result.message());
    std::fflush(stderr);
  }

 private:
  int rank_;
  std::string test_ = "(outside a test)";
};

}  // namespace

int main(int argc, char** argv) {
  int status = 1;
  {
    dsm::runtime rt(argc, argv);
    ::testing::InitGoogleTest(&argc, argv);

    // One test order for all ranks, or their collectives would pair up wrongly.
    // Seed 0 means "from the clock", which differs between ranks: rank 0 picks one for everybody.
    int seed = GTEST_FLAG_GET(random_seed);
    if (seed == 0 && GTEST_FLAG_GET(shuffle)) seed = 1 + static_cast<int>(std::time(nullptr) % 99999);
    MPI_Bcast(&seed, 1, MPI_INT, 0, MPI_COMM_WORLD);
    GTEST_FLAG_SET(random_seed, seed);

    const int rank = dsm::rank();
    ::testing::TestEventListeners& listeners = ::testing::UnitTest::GetInstance()->listeners();
    if (rank != 0) {
      delete listeners.Release(listeners.default_result_printer());
      delete listeners.Release(listeners.default_xml_generator());
      listeners.Append(new rank_failure_printer(rank));
    }

    const int mine = RUN_ALL_TESTS() != 0 ? 1 : 0;
    int failed_ranks = 0;
    MPI_Allreduce(&mine, &failed_ranks, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
    if (rank == 0 && failed_ranks != 0) {
      std::fprintf(stderr, "dsm_test_main: tests failed on %d of %d rank(s)\n", failed_ranks, dsm::ranks());
    }
    status = failed_ranks != 0 ? 1 : 0;
  }
  return status;
}
