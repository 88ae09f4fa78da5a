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
 * The tile products run on the sgemm micro-kernel (sgemm_micro) over operands this file packs
 * itself: keys and values once per task, each tile's Q, dO, P and dS once, all zero-padded to
 * whole micro-tiles so no product has an edge case.
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

#define BQ 24 /* query rows per tile: two 12-row (AVX-512), four 6-row (AVX2), six 4-row (C) slivers */
#define MAX_THREADS 256

/* Pair (a, b) of rope pair j. */
static inline void pair(int style, int j, int half, int *a, int *b) {
  if (style == 2) { *a = 2 * j; *b = 2 * j + 1; }
  else { *a = j; *b = j + half; }
}

/* dst = mul · rope(src) at the position whose tables are c, s. */
DS_CLONES static void rope_row(const float *restrict src, const float *restrict c, const float *restrict s, float *restrict dst, int Dh, int style, float mul) {
  if (style == 0) { for (int d = 0; d < Dh; d++) dst[d] = mul * src[d]; return; }
  int half = Dh / 2, a, b;
  if (style == 1) { /* contiguous halves: vectorizes */
    for (int j = 0; j < half; j++) {
      dst[j] = mul * (src[j] * c[j] - src[j + half] * s[j]);
      dst[j + half] = mul * (src[j + half] * c[j + half] + src[j] * s[j + half]);
    }
    return;
  }
  for (int j = 0; j < half; j++) {
    pair(style, j, half, &a, &b);
    dst[a] = mul * (src[a] * c[a] - src[b] * s[a]);
    dst[b] = mul * (src[b] * c[b] + src[a] * s[b]);
  }
}

/* dx = mul · ropeᵀ(dy). */
DS_CLONES static void rope_back_row(const float *restrict dy, const float *restrict c, const float *restrict s, float *restrict dx, int Dh, int style, float mul) {
  if (style == 0) { for (int d = 0; d < Dh; d++) dx[d] = mul * dy[d]; return; }
  int half = Dh / 2, a, b;
  if (style == 1) {
    for (int j = 0; j < half; j++) {
      dx[j] = mul * (dy[j] * c[j] + dy[j + half] * s[j + half]);
      dx[j + half] = mul * (dy[j + half] * c[j + half] - dy[j] * s[j]);
    }
    return;
  }
  for (int j = 0; j < half; j++) {
    pair(style, j, half, &a, &b);
    dx[a] = mul * (dy[a] * c[a] + dy[b] * s[b]);
    dx[b] = mul * (dy[b] * c[b] - dy[a] * s[a]);
  }
}

/* Softmax in place over s[0 .. valid), zeros in [valid, n); returns the log-sum-exp. */
DS_CLONES static float softmax_row(float *restrict s, int valid, int n) {
  float m = ds_max(s, valid);
  for (int j = 0; j < valid; j++) s[j] = ds_expf(s[j] - m);
  float sum = ds_sum(s, valid), inv = 1.0f / sum;
  int j = 0;
  for (; j < valid; j++) s[j] *= inv;
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

/* ---- packing into the micro-kernel's operand layouts (sgemm.h: a [kc, mr] slivers, b [kc, nr] panels) ---- */

static inline int roundup(int x, int m) { return (x + m - 1) / m * m; }

/* A operand, op(A)[i, k] = src[k·ld + i] (src's first M columns, K rows): [M/mr][K][mr]. */
static void pack_a_cols(const SgemmMicro *m, const float *src, size_t ld, int K, int M, float *dst) {
  for (int s = 0; s < M; s += m->mr)
    for (int k = 0; k < K; k++) memcpy(dst + (size_t)s * K + (size_t)k * m->mr, src + (size_t)k * ld + s, sizeof(float) * m->mr);
}

/* B operand, op(B)[k, j] = src[k·ld + j] for j < cols, 0 for cols ≤ j < N: [N/nr][K][nr]. */
static void pack_b_rows(const SgemmMicro *m, const float *src, size_t ld, int K, int N, int cols, float *dst) {
  for (int p = 0; p < N; p += m->nr) {
    int n = cols - p < m->nr ? (cols - p > 0 ? cols - p : 0) : m->nr;
    float *d = dst + (size_t)p * K;
    for (int k = 0; k < K; k++) {
      memcpy(d + (size_t)k * m->nr, src + (size_t)k * ld + p, sizeof(float) * n);
      for (int j = n; j < m->nr; j++) d[(size_t)k * m->nr + j] = 0.0f;
    }
  }
}

/* B operand, op(B)[k, j] = src[j·ld + k] for j < rows, 0 for rows ≤ j < N: [N/nr][K][nr]. */
static void pack_b_cols(const SgemmMicro *m, const float *src, size_t ld, int K, int N, int rows, float *dst) {
  for (int p = 0; p < N; p += m->nr) {
    float *d = dst + (size_t)p * K;
    for (int j = 0; j < m->nr; j++) {
      int r = p + j;
      if (r < rows) for (int k = 0; k < K; k++) d[(size_t)k * m->nr + j] = src[(size_t)r * ld + k];
      else for (int k = 0; k < K; k++) d[(size_t)k * m->nr + j] = 0.0f;
    }
  }
}

/* C[M, N] (+)= A·B over packed operands, M a multiple of mr, N of nr; B's panels hold `kb` rows
 * (≥ K: the first K are used). */
static void tile_gemm(const SgemmMicro *m, const float *A, const float *B, int kb, float *C, size_t ldc, int M, int N, int K, int acc) {
  for (int p = 0; p < N; p += m->nr)
    for (int s = 0; s < M; s += m->mr) m->fn(K, A + (size_t)s * K, B + (size_t)p * kb, C + (size_t)s * ldc + p, ldc, acc);
}

/* C[M, N] (+)= A·B with A row-major in place (row stride lda, M rows readable), B packed. */
static void tile_gemm_lda(const SgemmMicro *m, const float *A, size_t lda, const float *B, int kb, float *C, size_t ldc, int M, int N, int K, int acc) {
  for (int p = 0; p < N; p += m->nr)
    for (int s = 0; s < M; s += m->mr) m->fn_lda(K, A + (size_t)s * lda, lda, B + (size_t)p * kb, C + (size_t)s * ldc + p, ldc, acc);
}

/* ---- per-thread scratch ---- */

static float *scratch[MAX_THREADS];
static size_t scratch_size[MAX_THREADS];

/* `count` buffers of the given sizes (floats) from this thread's scratch, each 64-byte aligned. */
static int carve(int thread, int count, const size_t *sizes, float **out) {
  size_t total = 0;
  for (int i = 0; i < count; i++) total += (sizes[i] + 15) / 16 * 16;
  if (scratch_size[thread] < total) {
    free(scratch[thread]);
    scratch[thread] = aligned_alloc(64, total * sizeof(float));
    scratch_size[thread] = scratch[thread] ? total : 0;
    if (!scratch[thread]) return -1;
  }
  float *p = scratch[thread];
  for (int i = 0; i < count; i++) { out[i] = p; p += (sizes[i] + 15) / 16 * 16; }
  return 0;
}

typedef struct {
  const float *q, *k, *v, *cos, *sin, *o, *lse_in, *dout;
  float *out, *lse, *dq, *dk, *dv;
  int B, T, H, Hkv, Dh, style;
  int failed;
} Attn;

/* Row pointers into [B, T, heads, Dh]. */
#define ROW(base, b, t, h, heads) ((base) + ((size_t)((b) * a->T + (t)) * (heads) + (h)) * a->Dh)

/* Padded sizes of one task's tiles: keys to whole B panels (Tq), Dh to whole panels (Dp), query
 * tiles to whole slivers (BQp), score rows to both (Ls, so a key range padded either way fits). */
typedef struct { int mr, nr, Tq, Dp, BQp, Ls; } Dims;

static Dims dims(const SgemmMicro *m, int T, int Dh) {
  Dims d = {m->mr, m->nr, roundup(T, m->nr), roundup(Dh, m->nr), roundup(BQ, m->mr), 0};
  d.Ls = roundup(d.Tq, m->mr);
  return d;
}

static void forward_task(void *p, int task, int thread) {
  Attn *a = p;
  const SgemmMicro *m = sgemm_micro();
  const int T = a->T, Dh = a->Dh, G = a->H / a->Hkv, b = task / a->Hkv, kvh = task % a->Hkv;
  const float scale = 1.0f / sqrtf((float)Dh);
  Dims z = dims(m, T, Dh);
  enum { KR, KTP, VP, QR, S, O, NBUF };
  size_t sizes[NBUF] = {(size_t)T * Dh, (size_t)Dh * z.Tq, (size_t)T * z.Dp, (size_t)z.BQp * Dh, (size_t)z.BQp * z.Ls, (size_t)z.BQp * z.Dp};
  float *buf[NBUF];
  if (carve(thread, NBUF, sizes, buf)) { a->failed = 1; return; }
  for (int j = 0; j < T; j++)
    rope_row(ROW(a->k, b, j, kvh, a->Hkv), a->cos + (size_t)j * Dh, a->sin + (size_t)j * Dh, buf[KR] + (size_t)j * Dh, Dh, a->style, 1.0f);
  pack_b_cols(m, buf[KR], Dh, Dh, z.Tq, T, buf[KTP]);                                      /* op(B)[d, key] */
  pack_b_rows(m, ROW(a->v, b, 0, kvh, a->Hkv), (size_t)a->Hkv * Dh, T, z.Dp, Dh, buf[VP]); /* op(B)[key, d] */
  for (int g = 0; g < G; g++) {
    int h = kvh * G + g;
    for (int i0 = 0; i0 < T; i0 += BQ) {
      int rows = T - i0 < BQ ? T - i0 : BQ, nk = i0 + rows;
      for (int r = 0; r < rows; r++)
        rope_row(ROW(a->q, b, i0 + r, h, a->H), a->cos + (size_t)(i0 + r) * Dh, a->sin + (size_t)(i0 + r) * Dh, buf[QR] + (size_t)r * Dh, Dh, a->style, scale);
      tile_gemm_lda(m, buf[QR], Dh, buf[KTP], Dh, buf[S], z.Ls, z.BQp, roundup(nk, z.nr), Dh, 0); /* S = scale·Q·Kᵀ */
      for (int r = 0; r < rows; r++) a->lse[((size_t)b * a->H + h) * T + i0 + r] = softmax_row(buf[S] + (size_t)r * z.Ls, i0 + r + 1, nk);
      tile_gemm_lda(m, buf[S], z.Ls, buf[VP], T, buf[O], z.Dp, z.BQp, z.Dp, nk, 0);                /* O = P·V */
      for (int r = 0; r < rows; r++) memcpy(ROW(a->out, b, i0 + r, h, a->H), buf[O] + (size_t)r * z.Dp, sizeof(float) * Dh);
    }
  }
}

static void backward_task(void *p, int task, int thread) {
  Attn *a = p;
  const SgemmMicro *m = sgemm_micro();
  const int T = a->T, Dh = a->Dh, G = a->H / a->Hkv, b = task / a->Hkv, kvh = task % a->Hkv;
  const float scale = 1.0f / sqrtf((float)Dh);
  Dims z = dims(m, T, Dh);
  enum { KR, KTP, KP, VTP, QR, DO, QP, DOP, P, DP, XTA, DQ, DK, DV, D, NBUF };
  size_t td = (size_t)T * Dh, bd = (size_t)z.BQp * Dh, bp = (size_t)z.BQp * z.Dp, bl = (size_t)z.BQp * z.Ls, lp = (size_t)z.Ls * z.Dp;
  size_t sizes[NBUF] = {td, (size_t)Dh * z.Tq, (size_t)T * z.Dp, (size_t)Dh * z.Tq, bd, bd, bp, bp, bl, bl, bl, bp, lp, lp, (size_t)z.BQp};
  float *buf[NBUF];
  if (carve(thread, NBUF, sizes, buf)) { a->failed = 1; return; }
  memset(buf[DK], 0, sizeof(float) * lp); /* dK (in roped space) and dV accumulate over the group's tiles */
  memset(buf[DV], 0, sizeof(float) * lp);
  for (int j = 0; j < T; j++)
    rope_row(ROW(a->k, b, j, kvh, a->Hkv), a->cos + (size_t)j * Dh, a->sin + (size_t)j * Dh, buf[KR] + (size_t)j * Dh, Dh, a->style, 1.0f);
  pack_b_cols(m, buf[KR], Dh, Dh, z.Tq, T, buf[KTP]);                                       /* S = Q·Kᵀ */
  pack_b_rows(m, buf[KR], Dh, T, z.Dp, Dh, buf[KP]);                                        /* dQ = dS·K */
  pack_b_cols(m, ROW(a->v, b, 0, kvh, a->Hkv), (size_t)a->Hkv * Dh, Dh, z.Tq, T, buf[VTP]); /* dP = dO·Vᵀ */
  for (int g = 0; g < G; g++) {
    int h = kvh * G + g;
    const float *lse = a->lse_in + ((size_t)b * a->H + h) * T;
    for (int i0 = 0; i0 < T; i0 += BQ) {
      int rows = T - i0 < BQ ? T - i0 : BQ, nk = i0 + rows, NS = roundup(nk, z.nr), MS = roundup(nk, z.mr);
      /* Q (roped, scaled) and dO rows; the pad rows are zero so they add nothing to dK, dV. */
      memset(buf[QR], 0, sizeof(float) * bd);
      memset(buf[DO], 0, sizeof(float) * bd);
      for (int r = 0; r < rows; r++) {
        int i = i0 + r;
        rope_row(ROW(a->q, b, i, h, a->H), a->cos + (size_t)i * Dh, a->sin + (size_t)i * Dh, buf[QR] + (size_t)r * Dh, Dh, a->style, scale);
        memcpy(buf[DO] + (size_t)r * Dh, ROW(a->dout, b, i, h, a->H), sizeof(float) * Dh);
        buf[D][r] = ds_dot(ROW(a->dout, b, i, h, a->H), ROW(a->o, b, i, h, a->H), Dh);
      }
      pack_b_rows(m, buf[QR], Dh, z.BQp, z.Dp, Dh, buf[QP]);
      pack_b_rows(m, buf[DO], Dh, z.BQp, z.Dp, Dh, buf[DOP]);
      tile_gemm_lda(m, buf[QR], Dh, buf[KTP], Dh, buf[P], z.Ls, z.BQp, NS, Dh, 0);  /* S */
      tile_gemm_lda(m, buf[DO], Dh, buf[VTP], Dh, buf[DP], z.Ls, z.BQp, NS, Dh, 0); /* dP = dO·Vᵀ */
      for (int r = 0; r < z.BQp; r++) {
        float *pr = buf[P] + (size_t)r * z.Ls;
        if (r < rows) probs_row(pr, lse[i0 + r], i0 + r + 1, z.Ls);
        else memset(pr, 0, sizeof(float) * z.Ls);
      }
      pack_a_cols(m, buf[P], z.Ls, z.BQp, MS, buf[XTA]);
      tile_gemm(m, buf[XTA], buf[DOP], z.BQp, buf[DV], z.Dp, MS, z.Dp, z.BQp, 1); /* dV += Pᵀ·dO */
      for (int r = 0; r < rows; r++) ds_row(buf[P] + (size_t)r * z.Ls, buf[DP] + (size_t)r * z.Ls, buf[D][r], nk);
      tile_gemm_lda(m, buf[P], z.Ls, buf[KP], T, buf[DQ], z.Dp, z.BQp, z.Dp, nk, 0); /* dQ = dS·K (roped, unscaled) */
      pack_a_cols(m, buf[P], z.Ls, z.BQp, MS, buf[XTA]);
      tile_gemm(m, buf[XTA], buf[QP], z.BQp, buf[DK], z.Dp, MS, z.Dp, z.BQp, 1);   /* dK += dSᵀ·(scale·Q) */
      for (int r = 0; r < rows; r++) {
        int i = i0 + r;
        rope_back_row(buf[DQ] + (size_t)r * z.Dp, a->cos + (size_t)i * Dh, a->sin + (size_t)i * Dh, ROW(a->dq, b, i, h, a->H), Dh, a->style, scale);
      }
    }
  }
  for (int j = 0; j < T; j++) {
    rope_back_row(buf[DK] + (size_t)j * z.Dp, a->cos + (size_t)j * Dh, a->sin + (size_t)j * Dh, ROW(a->dk, b, j, kvh, a->Hkv), Dh, a->style, 1.0f);
    memcpy(ROW(a->dv, b, j, kvh, a->Hkv), buf[DV] + (size_t)j * z.Dp, sizeof(float) * Dh);
  }
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
