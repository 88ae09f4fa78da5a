/*
 * Causal grouped-query attention, forward and backward, flash-attention style: scores exist one
 * tile of BQ query rows × the keys they see at a time, never as [T, T]; the forward saves only
 * each query's log-sum-exp, from which the backward rebuilds a tile's probabilities.
 *
 * One task per (batch entry, kv head): it ropes that head's keys once into [T, Dh] rows, then runs
 * every query head of its group (G = H / Hkv) over them, so keys and values are never copied per
 * query head, and in the backward dK, dV of the kv head are owned by one task (no atomics).
 *
 *   forward, per tile (rows i0 .. i0+rows, keys 0 .. nk = i0+rows):
 *     S = (scale·rope(Q)) · rope(K)ᵀ   [rows, nk]      P = softmax(S, causal)      O = P · V
 *   backward (FlashAttention-2's equations, D_i = Σ dO_i ⊙ O_i):
 *     P = exp(S − lse)   dV += Pᵀ·dO   dP = dO·Vᵀ   dS = P ⊙ (dP − D)   dQ = scale·dS·K   dK += dSᵀ·(scale·Q)
 * The tile products run on the sgemm micro-kernels (sgemm_serial, on the task's thread).
 * Rope: rope(x) = x ⊙ cos + (x·P) ⊙ sin, per pair (a, b): a' = a·c − b·s, b' = b·c + a·s; its
 * backward rotates the other way: dx_a = dy_a·c + dy_b·s, dx_b = dy_b·c − dy_a·s.
 */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include "fused.h"
#include "pool.h"
#include "sgemm.h"
#include "vmath.h"

#define BQ 24 /* query rows per tile: two 12-row (AVX-512), four 6-row (AVX2) micro-kernel slivers */

/* Pair (a, b) of rope pair j. */
static inline void pair(int style, int j, int half, int *a, int *b) {
  if (style == 2) { *a = 2 * j; *b = 2 * j + 1; }
  else { *a = j; *b = j + half; }
}

/* dst = mul · rope(src) at the position whose tables are c, s. */
static void rope_row(const float *src, const float *c, const float *s, float *dst, int Dh, int style, float mul) {
  if (style == 0) { for (int d = 0; d < Dh; d++) dst[d] = mul * src[d]; return; }
  int half = Dh / 2, a, b;
  for (int j = 0; j < half; j++) {
    pair(style, j, half, &a, &b);
    dst[a] = mul * (src[a] * c[a] - src[b] * s[a]);
    dst[b] = mul * (src[b] * c[b] + src[a] * s[b]);
  }
}

/* dx = mul · ropeᵀ(dy). */
static void rope_back_row(const float *dy, const float *c, const float *s, float *dx, int Dh, int style, float mul) {
  if (style == 0) { for (int d = 0; d < Dh; d++) dx[d] = mul * dy[d]; return; }
  int half = Dh / 2, a, b;
  for (int j = 0; j < half; j++) {
    pair(style, j, half, &a, &b);
    dx[a] = mul * (dy[a] * c[a] + dy[b] * s[b]);
    dx[b] = mul * (dy[b] * c[b] - dy[a] * s[a]);
  }
}

/* Softmax in place over s[0 .. valid), zeros in [valid, n); returns the log-sum-exp. */
DS_CLONES static float softmax_row(float *restrict s, int valid, int n) {
  float m = s[0];
  for (int j = 1; j < valid; j++) m = s[j] > m ? s[j] : m;
  float acc[DS_LANES] = {0};
  int j = 0;
  for (; j + DS_LANES <= valid; j += DS_LANES)
    for (int l = 0; l < DS_LANES; l++) { s[j + l] = ds_expf(s[j + l] - m); acc[l] += s[j + l]; }
  float sum = ds_lanes_sum(acc);
  for (; j < valid; j++) { s[j] = ds_expf(s[j] - m); sum += s[j]; }
  float inv = 1.0f / sum;
  for (j = 0; j < valid; j++) s[j] *= inv;
  for (; j < n; j++) s[j] = 0.0f;
  return m + logf(sum);
}

/* The forward's probabilities again: p = exp(s − lse) over [0, valid), 0 after, in place. */
DS_CLONES static void probs_row(float *restrict s, float lse, int valid, int n) {
  int j = 0;
  for (; j < valid; j++) s[j] = ds_expf(s[j] - lse);
  for (; j < n; j++) s[j] = 0.0f;
}

/* dS = P ⊙ (dP − D), in place of P. */
DS_CLONES static void ds_row(float *restrict p, const float *restrict dp, float D, int n) {
  for (int j = 0; j < n; j++) p[j] = p[j] * (dp[j] - D);
}

typedef struct {
  const float *q, *k, *v, *cos, *sin, *o, *lse_in, *dout;
  float *out, *lse, *dq, *dk, *dv;
  int B, T, H, Hkv, Dh, style;
  int failed;
} Attn;

static int gemm(const float *A, const float *B, float *C, int M, int N, int K, int ta, int tb, int acc, int thread) {
  SgemmArgs g = {A, B, C, 1, M, N, K, ta, tb, 0, 0, 0, acc};
  return sgemm_serial(&g, thread);
}

/* Row pointers into [B, T, heads, Dh]. */
#define ROW(base, b, t, h, heads) ((base) + ((size_t)((b) * a->T + (t)) * (heads) + (h)) * a->Dh)

static void forward_task(void *p, int task, int thread) {
  Attn *a = p;
  const int T = a->T, Dh = a->Dh, G = a->H / a->Hkv, b = task / a->Hkv, kvh = task % a->Hkv;
  const float scale = 1.0f / sqrtf((float)Dh);
  float *mem = malloc(sizeof(float) * ((size_t)2 * T * Dh + (size_t)BQ * T + (size_t)2 * BQ * Dh));
  if (!mem) { a->failed = 1; return; }
  float *Kr = mem, *Vr = Kr + (size_t)T * Dh, *S = Vr + (size_t)T * Dh, *Qb = S + (size_t)BQ * T, *Ob = Qb + (size_t)BQ * Dh;
  for (int j = 0; j < T; j++) {
    rope_row(ROW(a->k, b, j, kvh, a->Hkv), a->cos + (size_t)j * Dh, a->sin + (size_t)j * Dh, Kr + (size_t)j * Dh, Dh, a->style, 1.0f);
    memcpy(Vr + (size_t)j * Dh, ROW(a->v, b, j, kvh, a->Hkv), sizeof(float) * Dh);
  }
  for (int g = 0; g < G && !a->failed; g++) {
    int h = kvh * G + g;
    for (int i0 = 0; i0 < T; i0 += BQ) {
      int rows = T - i0 < BQ ? T - i0 : BQ, nk = i0 + rows;
      for (int r = 0; r < rows; r++)
        rope_row(ROW(a->q, b, i0 + r, h, a->H), a->cos + (size_t)(i0 + r) * Dh, a->sin + (size_t)(i0 + r) * Dh, Qb + (size_t)r * Dh, Dh, a->style, scale);
      if (gemm(Qb, Kr, S, rows, nk, Dh, 0, 1, 0, thread)) { a->failed = 1; break; }
      for (int r = 0; r < rows; r++) a->lse[((size_t)b * a->H + h) * T + i0 + r] = softmax_row(S + (size_t)r * nk, i0 + r + 1, nk);
      if (gemm(S, Vr, Ob, rows, Dh, nk, 0, 0, 0, thread)) { a->failed = 1; break; }
      for (int r = 0; r < rows; r++) memcpy(ROW(a->out, b, i0 + r, h, a->H), Ob + (size_t)r * Dh, sizeof(float) * Dh);
    }
  }
  free(mem);
}

static void backward_task(void *p, int task, int thread) {
  Attn *a = p;
  const int T = a->T, Dh = a->Dh, G = a->H / a->Hkv, b = task / a->Hkv, kvh = task % a->Hkv;
  const float scale = 1.0f / sqrtf((float)Dh);
  size_t td = (size_t)T * Dh, bt = (size_t)BQ * T, bd = (size_t)BQ * Dh;
  float *mem = calloc(4 * td + 2 * bt + 3 * bd + BQ, sizeof(float));
  if (!mem) { a->failed = 1; return; }
  float *Kr = mem, *Vr = Kr + td, *dK = Vr + td, *dV = dK + td; /* dK (in roped space) and dV start at 0 */
  float *P = dV + td, *dP = P + bt, *Qb = dP + bt, *dOb = Qb + bd, *dQb = dOb + bd, *D = dQb + bd;
  for (int j = 0; j < T; j++) {
    rope_row(ROW(a->k, b, j, kvh, a->Hkv), a->cos + (size_t)j * Dh, a->sin + (size_t)j * Dh, Kr + (size_t)j * Dh, Dh, a->style, 1.0f);
    memcpy(Vr + (size_t)j * Dh, ROW(a->v, b, j, kvh, a->Hkv), sizeof(float) * Dh);
  }
  for (int g = 0; g < G && !a->failed; g++) {
    int h = kvh * G + g;
    const float *lse = a->lse_in + ((size_t)b * a->H + h) * T;
    for (int i0 = 0; i0 < T; i0 += BQ) {
      int rows = T - i0 < BQ ? T - i0 : BQ, nk = i0 + rows;
      for (int r = 0; r < rows; r++) {
        int i = i0 + r;
        rope_row(ROW(a->q, b, i, h, a->H), a->cos + (size_t)i * Dh, a->sin + (size_t)i * Dh, Qb + (size_t)r * Dh, Dh, a->style, scale);
        const float *dout = ROW(a->dout, b, i, h, a->H), *o = ROW(a->o, b, i, h, a->H);
        float dsum = 0.0f;
        for (int d = 0; d < Dh; d++) { dOb[(size_t)r * Dh + d] = dout[d]; dsum += dout[d] * o[d]; }
        D[r] = dsum;
      }
      int fail = gemm(Qb, Kr, P, rows, nk, Dh, 0, 1, 0, thread); /* S */
      for (int r = 0; r < rows; r++) probs_row(P + (size_t)r * nk, lse[i0 + r], i0 + r + 1, nk);
      fail |= gemm(dOb, Vr, dP, rows, nk, Dh, 0, 1, 0, thread);  /* dP = dO·Vᵀ */
      fail |= gemm(P, dOb, dV, nk, Dh, rows, 1, 0, 1, thread);   /* dV += Pᵀ·dO */
      for (int r = 0; r < rows; r++) ds_row(P + (size_t)r * nk, dP + (size_t)r * nk, D[r], nk);
      fail |= gemm(P, Kr, dQb, rows, Dh, nk, 0, 0, 0, thread);   /* dQ (roped, unscaled) = dS·K */
      fail |= gemm(P, Qb, dK, nk, Dh, rows, 1, 0, 1, thread);    /* dK += dSᵀ·(scale·Q) */
      if (fail) { a->failed = 1; break; }
      for (int r = 0; r < rows; r++) {
        int i = i0 + r;
        rope_back_row(dQb + (size_t)r * Dh, a->cos + (size_t)i * Dh, a->sin + (size_t)i * Dh, ROW(a->dq, b, i, h, a->H), Dh, a->style, scale);
      }
    }
  }
  for (int j = 0; j < T; j++) {
    rope_back_row(dK + (size_t)j * Dh, a->cos + (size_t)j * Dh, a->sin + (size_t)j * Dh, ROW(a->dk, b, j, kvh, a->Hkv), Dh, a->style, 1.0f);
    memcpy(ROW(a->dv, b, j, kvh, a->Hkv), dV + (size_t)j * Dh, sizeof(float) * Dh);
  }
  free(mem);
}

int ds_attention(const float *q, const float *k, const float *v, const float *cos, const float *sin, float *o, float *lse,
                 int B, int T, int H, int Hkv, int Dh, int rope_style) {
  Attn a = {.q = q, .k = k, .v = v, .cos = cos, .sin = sin, .out = o, .lse = lse, .B = B, .T = T, .H = H, .Hkv = Hkv, .Dh = Dh, .style = rope_style};
  pool_run(B * Hkv, forward_task, &a);
  return a.failed ? -1 : 0;
}

int ds_attention_grad(const float *q, const float *k, const float *v, const float *cos, const float *sin, const float *o,
                      const float *lse, const float *dout, float *dq, float *dk, float *dv, int B, int T, int H, int Hkv, int Dh,
                      int rope_style) {
  Attn a = {.q = q, .k = k, .v = v, .cos = cos, .sin = sin, .o = o, .lse_in = lse, .dout = dout, .dq = dq, .dk = dk, .dv = dv,
            .B = B, .T = T, .H = H, .Hkv = Hkv, .Dh = Dh, .style = rope_style};
  pool_run(B * Hkv, backward_task, &a);
  return a.failed ? -1 : 0;
}
