/*
 * The native kernels' thread pool: workers start once (pool_set_threads) and sleep on a condition
 * variable between jobs, so a kernel call costs a wake-up, not a thread start (tens of µs each,
 * a few hundred calls per training step). A job is a count of tasks; workers and the caller claim
 * task indices from one atomic counter, so uneven tasks (causal attention's rows) balance.
 * Workers spin briefly before sleeping: back-to-back kernel calls then find them awake.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "pool.h"

#define MAX_THREADS 256
#define SPIN 400

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t wake = PTHREAD_COND_INITIALIZER, done = PTHREAD_COND_INITIALIZER;
static pthread_t tids[MAX_THREADS];
static int nthreads = 1; /* the caller included */
static int quit = 0;
static atomic_int generation = 0;
static atomic_int next_task, busy;
static atomic_flag running = ATOMIC_FLAG_INIT;
static pool_fn job_fn;
static void *job_ctx;
static int job_tasks;

static inline void cpu_relax(void) {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  __asm__ volatile("yield");
#endif
}

static void drain(int thread) {
  for (int t; (t = atomic_fetch_add(&next_task, 1)) < job_tasks;) job_fn(job_ctx, t, thread);
}

static void *worker(void *arg) {
  int thread = (int)(size_t)arg, seen = 0;
  for (;;) {
    for (int i = 0; i < SPIN && atomic_load(&generation) == seen; i++) cpu_relax();
    pthread_mutex_lock(&mu);
    while (atomic_load(&generation) == seen && !quit) pthread_cond_wait(&wake, &mu);
    if (quit) { pthread_mutex_unlock(&mu); return NULL; }
    seen = atomic_load(&generation);
    pthread_mutex_unlock(&mu);
    drain(thread);
    if (atomic_fetch_sub(&busy, 1) == 1) {
      pthread_mutex_lock(&mu);
      pthread_cond_signal(&done);
      pthread_mutex_unlock(&mu);
    }
  }
}

static void stop_workers(void) {
  pthread_mutex_lock(&mu);
  quit = 1;
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  for (int i = 1; i < nthreads; i++) pthread_join(tids[i], NULL);
  quit = 0;
  nthreads = 1;
}

int pool_set_threads(int threads) {
  if (threads < 1) threads = 1;
  if (threads > MAX_THREADS) threads = MAX_THREADS;
  if (threads == nthreads) return 0;
  stop_workers();
  /* Workers compare against the generation they last saw: start them at the current one. */
  int started = 1, rc = 0;
  for (int i = 1; i < threads; i++) {
    if (pthread_create(&tids[i], NULL, worker, (void *)(size_t)i) != 0) { rc = -1; break; }
    started++;
  }
  nthreads = started;
  return rc;
}

int pool_threads(void) { return nthreads; }

void pool_run(int tasks, pool_fn fn, void *ctx) {
  if (tasks <= 0) return;
  /* One task, one thread, or a call from inside a task: run here. */
  if (tasks == 1 || nthreads == 1 || atomic_flag_test_and_set(&running)) {
    for (int t = 0; t < tasks; t++) fn(ctx, t, 0);
    return;
  }
  pthread_mutex_lock(&mu);
  job_fn = fn;
  job_ctx = ctx;
  job_tasks = tasks;
  atomic_store(&next_task, 0);
  atomic_store(&busy, nthreads - 1);
  atomic_fetch_add(&generation, 1);
  pthread_cond_broadcast(&wake);
  pthread_mutex_unlock(&mu);
  drain(0);
  for (int i = 0; i < SPIN && atomic_load(&busy) > 0; i++) cpu_relax();
  pthread_mutex_lock(&mu);
  while (atomic_load(&busy) > 0) pthread_cond_wait(&done, &mu);
  pthread_mutex_unlock(&mu);
  atomic_flag_clear(&running);
}
