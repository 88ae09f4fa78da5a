/* A small persistent pthread pool shared by the native kernels: pool_run hands `tasks` task
 * indices out to the workers and the calling thread, and returns when all have run. */
#ifndef DS_POOL_H
#define DS_POOL_H
typedef void (*pool_fn)(void *ctx, int task, int thread);
/* Sizes the pool to `threads` (the caller included; 1 = no workers). 0, or -1 when a thread cannot start. */
int pool_set_threads(int threads);
int pool_threads(void);
/* Runs fn(ctx, t, thread) for t < tasks over the pool; thread < pool_threads() indexes per-thread scratch. */
void pool_run(int tasks, pool_fn fn, void *ctx);
#endif
