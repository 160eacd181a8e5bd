/* consumer/main.c: an outside C program using an installed dsm through <dsm/dsm.h> only. Every rank
 * adds rank+1 to a lock-protected shared sum; after a barrier the sum must be n(n+1)/2. */
#include <dsm/dsm.h>
#include <stdio.h>

int main(int argc, char** argv) {
  dsm_init(&argc, &argv);
  long* sum = dsm_alloc(sizeof *sum);
  dsm_lock_acquire(3);
  *sum += dsm_rank() + 1;
  dsm_lock_release(3);
  dsm_barrier();
  long n = dsm_ranks();
  long got = *sum;
  int ok = got == n * (n + 1) / 2;
  if (dsm_rank() == 0) printf("consumer_c: %ld ranks, sum %ld, expected %ld: %s\n", n, got, n * (n + 1) / 2, ok ? "OK" : "FAIL");
  dsm_barrier();
  dsm_free(sum);
  dsm_finalize();
  return ok ? 0 : 1;
}
