/*
 * Row-wise fused kernels: RMSNorm, SwiGLU and cross-entropy, forward and backward. Each is one
 * pass over its rows (tfjs composes each from 4–8 ops, every one a pass over memory), split into
 * row chunks over the pool. The inner loops are vectorized per ISA (DS_CLONES).
 */
#include <math.h>
#include <stdlib.h>
#include "fused.h"
#include "pool.h"
#include "vmath.h"

/* Row chunks of ~16k values, not depending on the pool's size: RMSNorm's dw sums its chunks in
 * order, so the result is the same bits on any number of threads. */
static int chunks_for(long rows, long per_row) {
  long c = rows * per_row / 16384;
  if (c > rows) c = rows;
  if (c > 1024) c = 1024;
  return c < 1 ? 1 : (int)c;
}

/* ---- RMSNorm ---- */

DS_CLONES static void rmsnorm_row(const float *restrict x, const float *restrict w, float *restrict y, float *rstd, int D, float eps) {
  float r = 1.0f / sqrtf(ds_dot(x, x, D) / (float)D + eps);
  *rstd = r;
  for (int d = 0; d < D; d++) y[d] = x[d] * r * w[d];
}

/* dx = r·(g − x̂·mean(g·x̂)), g = dy·w, x̂ = x·r; dwacc += dy·x̂. */
DS_CLONES static void rmsnorm_grad_row(const float *restrict x, const float *restrict w, float r, const float *restrict dy,
                                       float *restrict dx, float *restrict dwacc, int D) {
  float c = ds_dot3(dy, w, x, D) * r / (float)D; /* mean(g·x̂) = Σ(g·x)·r/D */
  for (int d = 0; d < D; d++) {
    dx[d] = r * (dy[d] * w[d] - x[d] * r * c);
    dwacc[d] += dy[d] * x[d] * r;
  }
}

typedef struct {
  const float *x, *w, *rstd, *dy;
  float *y, *rs, *dx, *partial;
  int N, D, chunks;
  float eps;
} Norm;

static void rmsnorm_task(void *p, int t, int thread) {
  (void)thread;
  const Norm *a = p;
  long r0 = (long)a->N * t / a->chunks, r1 = (long)a->N * (t + 1) / a->chunks;
  for (long i = r0; i < r1; i++) rmsnorm_row(a->x + i * a->D, a->w, a->y + i * a->D, a->rs + i, a->D, a->eps);
}

void ds_rmsnorm(const float *x, const float *w, float *y, float *rstd, int N, int D, float eps) {
  Norm a = {.x = x, .w = w, .y = y, .rs = rstd, .N = N, .D = D, .chunks = chunks_for(N, D), .eps = eps};
  pool_run(a.chunks, rmsnorm_task, &a);
}

static void rmsnorm_grad_task(void *p, int t, int thread) {
  (void)thread;
  const Norm *a = p;
  long r0 = (long)a->N * t / a->chunks, r1 = (long)a->N * (t + 1) / a->chunks;
  float *dw = a->partial + (size_t)t * a->D; /* this chunk's Σ over its rows */
  for (int d = 0; d < a->D; d++) dw[d] = 0.0f;
  for (long i = r0; i < r1; i++) rmsnorm_grad_row(a->x + i * a->D, a->w, a->rstd[i], a->dy + i * a->D, a->dx + i * a->D, dw, a->D);
}

int ds_rmsnorm_grad(const float *x, const float *w, const float *rstd, const float *dy, float *dx, float *dw, int N, int D) {
  int chunks = chunks_for(N, D);
  float *partial = malloc(sizeof(float) * (size_t)chunks * D);
  if (!partial) return -1;
  Norm a = {.x = x, .w = w, .rstd = rstd, .dy = dy, .dx = dx, .partial = partial, .N = N, .D = D, .chunks = chunks};
  pool_run(chunks, rmsnorm_grad_task, &a);
  /* Chunks summed in order: the result does not depend on which thread ran which chunk. */
  for (int d = 0; d < D; d++) dw[d] = 0.0f;
  for (int c = 0; c < chunks; c++)
    for (int d = 0; d < D; d++) dw[d] += partial[(size_t)c * D + d];
  free(partial);
  return 0;
}

/* ---- SwiGLU: y = silu(g)·u = g·σ(g)·u ---- */

DS_CLONES static void swiglu_span(const float *restrict g, const float *restrict u, float *restrict y, long n) {
  for (long i = 0; i < n; i++) y[i] = g[i] * u[i] / (1.0f + ds_expf(-g[i]));
}

/* dg = dy·u·σ(g)·(1 + g·(1 − σ(g))), du = dy·g·σ(g). */
DS_CLONES static void swiglu_grad_span(const float *restrict g, const float *restrict u, const float *restrict dy,
                                       float *restrict dg, float *restrict du, long n) {
  for (long i = 0; i < n; i++) {
    float s = 1.0f / (1.0f + ds_expf(-g[i]));
    dg[i] = dy[i] * u[i] * s * (1.0f + g[i] * (1.0f - s));
    du[i] = dy[i] * g[i] * s;
  }
}

typedef struct {
  const float *g, *u, *dy;
  float *y, *dg, *du;
  long n;
  int chunks;
} Glu;

static void swiglu_task(void *p, int t, int thread) {
  (void)thread;
  const Glu *a = p;
  long i0 = a->n * t / a->chunks, i1 = a->n * (t + 1) / a->chunks;
  if (a->y) swiglu_span(a->g + i0, a->u + i0, a->y + i0, i1 - i0);
  else swiglu_grad_span(a->g + i0, a->u + i0, a->dy + i0, a->dg + i0, a->du + i0, i1 - i0);
}

void ds_swiglu(const float *g, const float *u, float *y, long n) {
  Glu a = {.g = g, .u = u, .y = y, .n = n, .chunks = chunks_for(n, 1)};
  pool_run(a.chunks, swiglu_task, &a);
}

void ds_swiglu_grad(const float *g, const float *u, const float *dy, float *dg, float *du, long n) {
  Glu a = {.g = g, .u = u, .dy = dy, .dg = dg, .du = du, .n = n, .chunks = chunks_for(n, 1)};
  pool_run(a.chunks, swiglu_task, &a);
}

/* ---- cross-entropy ---- */

DS_CLONES static float row_lse(const float *restrict x, float *restrict tmp, int V) {
  float m = ds_max(x, V);
  for (int j = 0; j < V; j++) tmp[j] = ds_expf(x[j] - m);
  return m + logf(ds_sum(tmp, V));
}

DS_CLONES static void row_softmax_grad(const float *restrict x, float lse, float scale, float *restrict dx, int V) {
  for (int j = 0; j < V; j++) dx[j] = scale * ds_expf(x[j] - lse);
}

typedef struct {
  const float *logits, *mask, *lse_in;
  const int32_t *targets;
  float *lse, *loss, *dlogits;
  int N, V, chunks;
  float scale;
  int failed;
} Xent;

static void xent_task(void *p, int t, int thread) {
  (void)thread;
  Xent *a = p;
  long r0 = (long)a->N * t / a->chunks, r1 = (long)a->N * (t + 1) / a->chunks;
  if (a->dlogits) {
    for (long i = r0; i < r1; i++) {
      const float *x = a->logits + i * a->V;
      float *dx = a->dlogits + i * a->V, s = a->scale * a->mask[i];
      row_softmax_grad(x, a->lse_in[i], s, dx, a->V);
      int32_t tg = a->targets[i];
      if (tg >= 0 && tg < a->V) dx[tg] -= s;
    }
    return;
  }
  float *tmp = malloc(sizeof(float) * (size_t)a->V);
  if (!tmp) { a->failed = 1; return; }
  for (long i = r0; i < r1; i++) {
    const float *x = a->logits + i * a->V;
    float l = row_lse(x, tmp, a->V);
    int32_t tg = a->targets[i];
    a->lse[i] = l;
    a->loss[i] = a->mask[i] * (l - (tg >= 0 && tg < a->V ? x[tg] : 0.0f));
  }
  free(tmp);
}

int ds_xent(const float *logits, const int32_t *targets, const float *mask, float *lse, float *loss, int N, int V) {
  Xent a = {.logits = logits, .mask = mask, .targets = targets, .lse = lse, .loss = loss, .N = N, .V = V, .chunks = chunks_for(N, V)};
  pool_run(a.chunks, xent_task, &a);
  return a.failed ? -1 : 0;
}

void ds_xent_grad(const float *logits, const int32_t *targets, const float *mask, const float *lse, float *dlogits, int N, int V, float scale) {
  Xent a = {.logits = logits, .mask = mask, .lse_in = lse, .targets = targets, .dlogits = dlogits, .N = N, .V = V, .chunks = chunks_for(N, V), .scale = scale};
  pool_run(a.chunks, xent_task, &a);
}

/* ---- elementwise add (residuals, gradient sums), split over the pool ---- */

DS_CLONES static void add_span(const float *restrict a, const float *restrict b, float *restrict y, long n) {
  for (long i = 0; i < n; i++) y[i] = a[i] + b[i];
}

typedef struct {
  const float *a, *b;
  float *y;
  long n;
  int chunks;
} Sum2;

static void add_task(void *p, int t, int thread) {
  (void)thread;
  const Sum2 *s = p;
  long i0 = s->n * t / s->chunks, i1 = s->n * (t + 1) / s->chunks;
  add_span(s->a + i0, s->b + i0, s->y + i0, i1 - i0);
}

void ds_add(const float *a, const float *b, float *y, long n) {
  Sum2 s = {a, b, y, n, chunks_for(n, 1)};
  pool_run(s.chunks, add_task, &s);
}
