/*
 * The Adam / AdamW update over a flat range, vectorized and split over the pool, with the
 * arithmetic of src/runtime/optim/adam_kernel.ts (PyTorch / DeepSpeed FusedAdam):
 *   g ← g + l2·p;  m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p·keep − step·m / (√v / √c2 + ε)
 * computed in float32 (the JS loop rounds through float64 between the stores).
 */
#include <math.h>
#include "fused.h"
#include "pool.h"
#include "vmath.h"

typedef struct {
  float *p, *m, *v;
  const float *g;
  long n;
  int chunks;
  float b1, b2, om1, om2, eps, step, sqrt_c2, l2, keep; /* om = 1 − β, rounded once from double */
} Adam;

DS_CLONES static void adam_span(float *restrict p, const float *restrict g, float *restrict m, float *restrict v, long n, const Adam *a) {
  const float b1 = a->b1, b2 = a->b2, om1 = a->om1, om2 = a->om2, eps = a->eps, step = a->step, inv_sqrt_c2 = 1.0f / a->sqrt_c2, l2 = a->l2, keep = a->keep;
  for (long i = 0; i < n; i++) {
    float gi = g[i] + l2 * p[i];
    float mi = b1 * m[i] + om1 * gi;
    float vi = b2 * v[i] + om2 * gi * gi;
    m[i] = mi;
    v[i] = vi;
    p[i] = p[i] * keep - step * mi / (sqrtf(vi) * inv_sqrt_c2 + eps);
  }
}

static void adam_task(void *ctx, int t, int thread) {
  (void)thread;
  const Adam *a = ctx;
  long i0 = a->n * t / a->chunks, i1 = a->n * (t + 1) / a->chunks;
  adam_span(a->p + i0, a->g + i0, a->m + i0, a->v + i0, i1 - i0, a);
}

void ds_adam(float *p, const float *g, float *m, float *v, long n, double b1, double b2, float eps, float step, float sqrt_c2, float l2, float keep) {
  long c = n / 65536 + 1;
  Adam a = {p, m, v, g, n, (int)(c > 4096 ? 4096 : c), (float)b1, (float)b2, (float)(1.0 - b1), (float)(1.0 - b2), eps, step, sqrt_c2, l2, keep};
  pool_run(a.chunks, adam_task, &a);
}
