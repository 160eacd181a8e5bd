/* dsm.h: the C interface of dsm, a distributed shared memory runtime for MPI programs.
 *
 * The same surface as dsm.hpp for C programs built with mpicc. Every rank of an mpirun job calls
 * dsm_init() first and dsm_finalize() last; both are collective. dsm_alloc() and dsm_free() are
 * collective and return the same pointer on every rank; dsm_malloc() and dsm_mfree() are not (any
 * rank, any time). Lock and barrier calls block the calling thread (it sleeps, it does not spin)
 * until the operation completes.
 *
 *   #include <dsm/dsm.h>
 *   int main(int argc, char** argv) {
 *     dsm_init(&argc, &argv);
 *     long* counter = dsm_alloc(sizeof *counter);
 *     dsm_lock_acquire(1); ++*counter; dsm_lock_release(1);
 *     dsm_barrier();
 *     dsm_free(counter);
 *     dsm_finalize();
 *   }
 */
#ifndef DSM_DSM_H_
#define DSM_DSM_H_

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Consistency models, as chosen by DSM_MODEL or --dsm-model=. */
typedef enum dsm_model {
  DSM_MODEL_SEQUENTIAL = 0,
  DSM_MODEL_EAGER_RELEASE = 1,
  DSM_MODEL_LAZY_RELEASE = 2,
  DSM_MODEL_ENTRY = 3
} dsm_model;

/* Collective. Initialises MPI if the program has not (MPI_THREAD_MULTIPLE), reads the DSM_*
 * configuration and removes --dsm-* flags from argv. A configuration error is printed once and
 * every rank exits with status 2. Returns 0. */
int dsm_init(int* argc, char*** argv);
/* Collective. Finalizes MPI only if dsm_init initialised it. */
void dsm_finalize(void);

int dsm_rank(void);
int dsm_ranks(void);
dsm_model dsm_current_model(void);

/* Errors a program can handle: calls that return NULL or -1 leave a message here (this thread's
 * last such error). Errors that leave the ranks out of step still end the job. */
const char* dsm_last_error(void);

/* Collective: zero-filled shared memory, the same address on every rank. NULL (on every rank) if
 * the global space has no room (DSM_SIZE); see dsm_last_error. */
void* dsm_alloc(size_t bytes);
/* Collective: p must come from dsm_alloc. Returns 0, or -1 on every rank if p did not come from
 * dsm_alloc (a rank out of step ends the job). */
int dsm_free(void* p);

/* Not collective: bytes from this rank's arena, which any rank may read and write (under the
 * model's rules) and free. Not zeroed. NULL if the arena is full (DSM_ARENA). */
void* dsm_malloc(size_t bytes);
/* Not collective: p must come from dsm_malloc on any rank. Returns 0, or -1 for any other pointer
 * or a block freed already. */
int dsm_mfree(void* p);

void dsm_lock_acquire(uint64_t id);
void dsm_lock_release(uint64_t id);
void dsm_lock_acquire_shared(uint64_t id);
void dsm_lock_release_shared(uint64_t id);
/* Returns 1 if the lock was taken, 0 if another rank holds it. */
int dsm_lock_try_acquire(uint64_t id);
/* Collective: binds [p, p + bytes) of the global space to lock id (entry consistency); see
   dsm::mutex::bind in dsm.hpp. Returns 0, or -1 on every rank for an overlapping or foreign range. */
int dsm_bind(uint64_t id, const void* p, size_t bytes);

/* Atomics on a shared, 8-byte aligned int64_t (see dsm::atomic_ref in dsm.hpp: under entry
 * consistency the word must be bound to a lock). Each returns the value the word held before; a bad
 * address ends the job with a message. dsm_atomic_compare_exchange stores `desired` only if the
 * word held `expected`. */
int64_t dsm_atomic_load(int64_t* p);
int64_t dsm_atomic_fetch_add(int64_t* p, int64_t value);
int64_t dsm_atomic_exchange(int64_t* p, int64_t value);
int64_t dsm_atomic_compare_exchange(int64_t* p, int64_t expected, int64_t desired);

/* Makes [p, p + bytes) readable (write = 0) or writable (write = 1) on this rank now, for code that
 * hands shared memory to the kernel or a device past dsm's wrappers (see dsm::touch). Returns 0, or
 * -1 for a range outside the global space. */
int dsm_touch(const void* p, size_t bytes, int write);

/* Collective. */
void dsm_barrier(void);

/* Condition variables (dsm::condition_variable in dsm.hpp), named by an integer of their own.
 * dsm_cond_wait releases lock `lock_id`, which the caller holds, sleeps until a signal or a
 * broadcast wakes it, and takes the lock again before it returns. dsm_cond_signal wakes the
 * longest waiter, dsm_cond_broadcast every waiter; with nobody waiting they do nothing. Waiting
 * without holding the lock ends the job with a message. Check the condition in a loop:
 *   dsm_lock_acquire(1);
 *   while (q->count == 0) dsm_cond_wait(1, 1);
 *   ... take an item ...
 *   dsm_lock_release(1);                                                                   */
void dsm_cond_wait(uint64_t cv_id, uint64_t lock_id);
void dsm_cond_signal(uint64_t cv_id);
void dsm_cond_broadcast(uint64_t cv_id);

#ifdef __cplusplus
}
#endif

#endif /* DSM_DSM_H_ */
