/* c_api_test.c: the C interface (dsm.h) compiles as C and works end to end. Every rank checks that
 * dsm_alloc gives zero-filled memory at the same address everywhere (compared over MPI), increments a
 * shared counter under dsm_lock_acquire/dsm_lock_release, and after dsm_barrier reads the exact
 * total; dsm_lock_try_acquire takes a free lock; dsm_malloc'd blocks are read and freed by another
 * rank; bad frees, binds and oversized allocations return -1 or NULL with a message instead of
 * ending the job. Exit status 0 iff every check held on every rank.
 * Data-race free, so it holds under every consistency model. */
#include <dsm/dsm.h>
#include <mpi.h>
#include <stdint.h>
#include <stdio.h>

static int failures = 0;

static void check(int ok, const char* what) {
  if (ok) return;
  ++failures;
  fprintf(stderr, "c_api_test: rank %d: check failed: %s\n", dsm_rank(), what);
}

int main(int argc, char** argv) {
  enum { kIterations = 40 };
  dsm_init(&argc, &argv);
  const int rank = dsm_rank();
  const int ranks = dsm_ranks();
  check(rank >= 0 && rank < ranks, "0 <= dsm_rank() < dsm_ranks()");
  check(dsm_current_model() == DSM_MODEL_SEQUENTIAL || dsm_current_model() == DSM_MODEL_EAGER_RELEASE ||
            dsm_current_model() == DSM_MODEL_LAZY_RELEASE || dsm_current_model() == DSM_MODEL_ENTRY,
        "dsm_current_model() is a model");

  long* counter = dsm_alloc(sizeof *counter);
  unsigned long long mine = (unsigned long long)(uintptr_t)counter;
  unsigned long long lowest = 0;
  unsigned long long highest = 0;
  MPI_Allreduce(&mine, &lowest, 1, MPI_UNSIGNED_LONG_LONG, MPI_MIN, MPI_COMM_WORLD);
  MPI_Allreduce(&mine, &highest, 1, MPI_UNSIGNED_LONG_LONG, MPI_MAX, MPI_COMM_WORLD);
  check(counter != NULL && lowest == highest, "dsm_alloc returns the same pointer on every rank");
  check(*counter == 0, "dsm_alloc memory is zero-filled");
  dsm_barrier(); /* everyone has read the zero before anyone increments */

  dsm_bind(21, counter, sizeof *counter); /* entry consistency: the counter travels with lock 21 */
  for (int i = 0; i < kIterations; ++i) {
    dsm_lock_acquire(21);
    ++*counter;
    dsm_lock_release(21);
  }
  dsm_barrier();
  dsm_lock_acquire_shared(21);
  check(*counter == (long)ranks * kIterations, "counter == ranks * iterations after the barrier");
  dsm_lock_release_shared(21);
  dsm_barrier();

  if (rank == 0) {
    int taken = dsm_lock_try_acquire(22);
    check(taken == 1, "dsm_lock_try_acquire of a free lock returns 1");
    if (taken == 1) dsm_lock_release(22);
  }
  dsm_barrier();

  /* Allocation by one rank: each rank's block, freed by the next rank. */
  long** blocks = dsm_alloc((size_t)ranks * sizeof *blocks);
  long* mine_block = dsm_malloc(100 * sizeof(long));
  check(mine_block != NULL, "dsm_malloc returns memory");
  for (int i = 0; i < 100; ++i) mine_block[i] = rank * 1000L + i;
  blocks[rank] = mine_block;
  dsm_barrier();
  const long* next = blocks[(rank + 1) % ranks];
  long wrong = 0;
  for (int i = 0; i < 100; ++i) wrong += next[i] != ((rank + 1) % ranks) * 1000L + i;
  check(wrong == 0, "another rank's dsm_malloc block reads what it wrote, after a barrier");
  dsm_barrier();
  check(dsm_mfree((void*)next) == 0, "dsm_mfree of another rank's block returns 0");
  check(dsm_mfree((void*)next) == -1 && dsm_last_error()[0] != '\0', "a second dsm_mfree returns -1 with a message");

  /* Errors a program can handle: the same on every rank, so nobody is out of step. */
  int on_stack = 0;
  check(dsm_free(&on_stack) == -1, "dsm_free of a pointer dsm_alloc did not return is -1");
  check(dsm_mfree(blocks) == -1, "dsm_mfree of dsm_alloc's memory is -1");
  check(dsm_alloc((size_t)1 << 62) == NULL && dsm_last_error()[0] != '\0', "dsm_alloc beyond DSM_SIZE is NULL");
  check(dsm_malloc((size_t)1 << 62) == NULL && dsm_last_error()[0] != '\0', "dsm_malloc beyond DSM_ARENA is NULL");
  check(dsm_bind(23, &on_stack, sizeof on_stack) == -1, "dsm_bind of memory outside the global space is -1");
  dsm_barrier();
  check(dsm_free(blocks) == 0, "dsm_free of dsm_alloc's memory is 0");
  check(dsm_free(counter) == 0, "dsm_free of dsm_alloc's memory is 0");

  int any_failed = 0;
  int failed = failures != 0;
  MPI_Allreduce(&failed, &any_failed, 1, MPI_INT, MPI_SUM, MPI_COMM_WORLD);
  if (rank == 0 && any_failed == 0) printf("c_api_test: OK on %d rank(s)\n", ranks);
  dsm_finalize();
  return any_failed == 0 ? 0 : 1;
}
