/* deepscale's fused training kernels (forward and backward), run on the pool (pool.h).
 * Shapes in the comments: row-major float32 unless said. */
#ifndef DS_FUSED_H
#define DS_FUSED_H
#include <stdint.h>

/* y = x · rstd · w, rstd = 1/sqrt(mean(x²) + eps); x, y [N, D], w [D], rstd [N] (saved for backward). */
void ds_rmsnorm(const float *x, const float *w, float *y, float *rstd, int N, int D, float eps);
/* dx [N, D] and dw [D] (= Σ over rows, overwritten) from dy [N, D]. */
int ds_rmsnorm_grad(const float *x, const float *w, const float *rstd, const float *dy, float *dx, float *dw, int N, int D);

/* y = silu(g) · u elementwise over n values. */
void ds_swiglu(const float *g, const float *u, float *y, long n);
void ds_swiglu_grad(const float *g, const float *u, const float *dy, float *dg, float *du, long n);

/* Per row of logits [N, V]: lse = log Σ exp, loss = mask · (lse − logits[target]) (0 for a target
 * outside [0, V)). */
int ds_xent(const float *logits, const int32_t *targets, const float *mask, float *lse, float *loss, int N, int V);
/* dlogits = scale · mask · (softmax − onehot(target)). */
void ds_xent_grad(const float *logits, const int32_t *targets, const float *mask, const float *lse, float *dlogits, int N, int V, float scale);

/* Causal grouped-query attention with rotary embeddings applied inside:
 *   q [B, T, H, Dh], k, v [B, T, Hkv, Dh] (projections as they come out of the linears, before rope),
 *   cos, sin [T, Dh] (rope_style 1: pairs (i, i + Dh/2); 2: pairs (2i, 2i + 1); 0: no rope),
 *   o [B, T, H, Dh], lse [B, H, T] (log-sum-exp of each query's scores, for the backward).
 * Query head h reads kv head h / (H / Hkv). Scores are kept one tile of query rows at a time. */
int ds_attention(const float *q, const float *k, const float *v, const float *cos, const float *sin, float *o, float *lse,
                 int B, int T, int H, int Hkv, int Dh, int rope_style);
/* dq, dk, dv (shapes of q, k, v; overwritten) from dout [B, T, H, Dh]; the forward's o and lse. */
int ds_attention_grad(const float *q, const float *k, const float *v, const float *cos, const float *sin, const float *o,
                      const float *lse, const float *dout, float *dq, float *dk, float *dv, int B, int T, int H, int Hkv, int Dh,
                      int rope_style);

/* y = a + b over n values (y may be a or b). */
void ds_add(const float *a, const float *b, float *y, long n);

/* Adam / AdamW over n values in place (src/runtime/optim/adam_kernel.ts's arithmetic, in float32):
 * step = lr / c1, keep = 1 − lr·wd (AdamW) or 1, l2 = Adam's L2 decay (0 for AdamW). */
void ds_adam(float *p, const float *g, float *m, float *v, long n, double b1, double b2, float eps, float step, float sqrt_c2, float l2, float keep);
#endif
