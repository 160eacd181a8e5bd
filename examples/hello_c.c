/* hello_c: the hello example in C, through dsm.h. Every rank writes its own slice of one shared
 * array, a barrier makes the writes visible, every rank reads and checks the whole array, and a
 * lock-protected shared tally collects the number of wrong values. It shows the C interface:
 * dsm_init/dsm_finalize (collective), dsm_alloc/dsm_free (collective, the same pointer on every
 * rank), dsm_lock_acquire/dsm_lock_release and dsm_barrier. Build it with mpicc; run it with
 * `mpirun -np 4 ./hello_c [values-per-rank]`. */
#include <dsm/dsm.h>

#include <stdio.h>
#include <stdlib.h>

/* The value rank r stores at index i of its slice. */
static long expected_value(int r, size_t i) { return 1000003L * r + (long)i + 1; }

int main(int argc, char** argv) {
  dsm_init(&argc, &argv); /* collective; removes --dsm-* flags from argv */
  size_t per_rank = argc > 1 ? strtoul(argv[1], NULL, 10) : 4096;
  int me = dsm_rank();
  int n = dsm_ranks();

  long* values = dsm_alloc(per_rank * (size_t)n * sizeof *values); /* zero-filled */
  long* wrong_total = dsm_alloc(sizeof *wrong_total);

  for (size_t i = 0; i < per_rank; ++i) values[(size_t)me * per_rank + i] = expected_value(me, i);

  dsm_barrier(); /* every slice is visible to every rank after this */

  long wrong = 0;
  for (int r = 0; r < n; ++r)
    for (size_t i = 0; i < per_rank; ++i)
      if (values[(size_t)r * per_rank + i] != expected_value(r, i)) ++wrong;

  dsm_lock_acquire(2); /* lock 2 protects *wrong_total */
  *wrong_total += wrong;
  dsm_lock_release(2);

  dsm_barrier();

  long total = *wrong_total;
  if (me == 0)
    printf("hello_c: %d ranks, %zu values written, read back by every rank, %ld wrong: %s\n", n,
           per_rank * (size_t)n, total, total == 0 ? "OK" : "FAIL");

  dsm_barrier(); /* nobody frees while another rank still reads the tally */
  dsm_free(wrong_total);
  dsm_free(values);
  dsm_finalize();
  return total == 0 ? 0 : 1;
}
