/*
 * Float32 batched matrix product for training: C[b] = op(A[b]) · op(B[b]), op = identity or
 * transpose, on the thread pool, over the micro-kernel sgemm_init picked (sgemm_micro.c: AVX-512,
 * AVX2+FMA or portable C).
 *
 * Blocking as BLIS does (Goto's algorithm):
 *   for jc (NC columns): for pc (KC deep):
 *     pack op(B)[pc.., jc..] once, shared, as panels [ceil(nc/NR), kc, NR]   (stays in L3)
 *     tasks over (MC-row blocks × chunks of B panels), each:
 *       op(A)[ic.., pc..]: read in place when A is row-major, else packed [ceil(mc/MR), kc, MR] (L2)
 *       for each B panel (kc×NR, stays in L1): for each MR-row sliver: MR×NR micro-kernel
 * When the packed B of every K block fits WHOLE_K_FLOATS, all are packed first and each task
 * walks the K blocks itself (fewer barriers). Packing reads either layout, so a transposed
 * operand costs no extra pass; tails are packed zero-padded and the micro-kernel then writes a
 * scratch tile. Each C element is summed in one order (K blocks ascending, k ascending within),
 * whichever thread computes it: the result does not depend on the pool's size.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include "pool.h"
#include "sgemm.h"

#define KC 256
#define NC 3072
#define MAX_MR 12
#define MAX_NR 32
#define MAX_THREADS 256

#include "sgemm_micro.h"

/* ---- packing ---- */

/* op(A)[i0 .. i0+mc, k0 .. k0+kc] → [ceil(mc/MR), kc, MR], zero-padded rows. */
static void pack_a(const float *A, int transA, int M, int K, int i0, int mc, int k0, int kc, float *dst) {
  const int mr = sgemm_kernel.mr;
  for (int s = 0; s < mc; s += mr) {
    float *d = dst + (size_t)s * kc;
    int rows = mc - s < mr ? mc - s : mr;
    if (transA) {
      /* A stored [K, M]: op(A)[i, k] = A[k, i], rows contiguous in i. */
      for (int k = 0; k < kc; k++) {
        const float *src = A + (size_t)(k0 + k) * M + i0 + s;
        for (int i = 0; i < rows; i++) d[k * mr + i] = src[i];
        for (int i = rows; i < mr; i++) d[k * mr + i] = 0.0f;
      }
    } else {
      for (int i = 0; i < rows; i++) {
        const float *src = A + (size_t)(i0 + s + i) * K + k0;
        for (int k = 0; k < kc; k++) d[k * mr + i] = src[k];
      }
      for (int i = rows; i < mr; i++)
        for (int k = 0; k < kc; k++) d[k * mr + i] = 0.0f;
    }
  }
}

/* One B panel: op(B)[k0 .. k0+kc, j0 .. j0+NR] → [kc, NR], zero-padded columns. */
static void pack_b_panel(const float *B, int transB, int N, int K, int j0, int k0, int kc, float *d) {
  const int nr = sgemm_kernel.nr;
  int cols = N - j0 < nr ? N - j0 : nr;
  if (transB) {
    /* B stored [N, K]: op(B)[k, j] = B[j, k]. */
    for (int j = 0; j < cols; j++) {
      const float *src = B + (size_t)(j0 + j) * K + k0;
      for (int k = 0; k < kc; k++) d[k * nr + j] = src[k];
    }
    for (int j = cols; j < nr; j++)
      for (int k = 0; k < kc; k++) d[k * nr + j] = 0.0f;
  } else {
    for (int k = 0; k < kc; k++) {
      const float *src = B + (size_t)(k0 + k) * N + j0;
      memcpy(d + k * nr, src, sizeof(float) * cols);
      for (int j = cols; j < nr; j++) d[k * nr + j] = 0.0f;
    }
  }
}

/* ---- scratch: per-thread A blocks, the shared B panels ---- */

static float *scratch_a[MAX_THREADS], *scratch_b_serial[MAX_THREADS], *shared_b;
static size_t size_a[MAX_THREADS], size_b_serial[MAX_THREADS], size_shared_b;

static float *grow(float **buf, size_t *have, size_t need) {
  if (*have >= need) return *buf;
  free(*buf);
  *buf = aligned_alloc(64, (need * sizeof(float) + 63) / 64 * 64);
  *have = *buf ? need : 0;
  return *buf;
}

/* ---- one K block of one product: the macro-kernel ---- */

typedef struct {
  const SgemmArgs *g;
  const float *A, *B;
  float *C;
  int jc, nc, pc, kc, accumulate;
  const float *bpack;
  int mblocks, chunks, panels;
  int failed;
} Block;

/* Rows [ic, ic+mc) × panels [p0, p1) of the block, on packed B. */
static int macro(const Block *w, int ic, int mc, int p0, int p1, int thread) {
  const SgemmArgs *g = w->g;
  const int mr = sgemm_kernel.mr, nr = sgemm_kernel.nr;
  float *apack = grow(&scratch_a[thread], &size_a[thread], (size_t)((mc + mr - 1) / mr * mr) * w->kc);
  if (!apack) return -1;
  /* A stored row-major is read in place by the lda micro-kernel (its rows are contiguous in k);
   * only a transposed A, and the ragged last sliver, are packed. */
  int inplace = !g->transA, full = mc / mr * mr;
  if (!inplace) pack_a(w->A, g->transA, g->M, g->K, ic, mc, w->pc, w->kc, apack);
  else if (full < mc) pack_a(w->A, 0, g->M, g->K, ic + full, mc - full, w->pc, w->kc, apack + (size_t)full * w->kc);
  float tile[MAX_MR * MAX_NR] __attribute__((aligned(64)));
  for (int p = p0; p < p1; p++) {
    int j0 = w->jc + p * nr, cols = g->N - j0 < nr ? g->N - j0 : nr;
    const float *bp = w->bpack + (size_t)p * w->kc * nr;
    for (int s = 0; s < mc; s += mr) {
      int rows = mc - s < mr ? mc - s : mr;
      float *c = w->C + (size_t)(ic + s) * g->N + j0;
      const float *ap = apack + (size_t)s * w->kc;
      if (inplace && rows == mr) {
        const float *a = w->A + (size_t)(ic + s) * g->K + w->pc;
        if (cols == nr) {
          sgemm_kernel_lda(w->kc, a, g->K, bp, c, g->N, w->accumulate);
        } else {
          sgemm_kernel_lda(w->kc, a, g->K, bp, tile, nr, 0);
          for (int i = 0; i < rows; i++)
            for (int j = 0; j < cols; j++) c[(size_t)i * g->N + j] = (w->accumulate ? c[(size_t)i * g->N + j] : 0.0f) + tile[i * nr + j];
        }
      } else if (rows == mr && cols == nr) {
        sgemm_kernel.fn(w->kc, ap, bp, c, g->N, w->accumulate);
      } else {
        sgemm_kernel.fn(w->kc, ap, bp, tile, nr, 0);
        for (int i = 0; i < rows; i++)
          for (int j = 0; j < cols; j++) c[(size_t)i * g->N + j] = (w->accumulate ? c[(size_t)i * g->N + j] : 0.0f) + tile[i * nr + j];
      }
    }
  }
  return 0;
}

static void pack_task(void *ctx, int p, int thread) {
  (void)thread;
  Block *w = ctx;
  pack_b_panel(w->B, w->g->transB, w->g->N, w->g->K, w->jc + p * sgemm_kernel.nr, w->pc, w->kc, (float *)w->bpack + (size_t)p * w->kc * sgemm_kernel.nr);
}

static void macro_task(void *ctx, int t, int thread) {
  Block *w = ctx;
  int mb = t % w->mblocks, ch = t / w->mblocks;
  int ic = mb * sgemm_kernel.mc, mc = w->g->M - ic < sgemm_kernel.mc ? w->g->M - ic : sgemm_kernel.mc;
  int p0 = w->panels * ch / w->chunks, p1 = w->panels * (ch + 1) / w->chunks;
  if (macro(w, ic, mc, p0, p1, thread) != 0) w->failed = 1;
}

static void zero_rows(float *C, int M, int N, int accumulate) {
  if (!accumulate) memset(C, 0, sizeof(float) * (size_t)M * N);
}

/* B packed for every K block of a column range at once: [kblocks][panels][kc, NR]. Then one
 * task runs its C region through all K blocks in order (the same sums, in the same order, as one
 * K block at a time), so a product costs two pool barriers instead of two per K block: on a
 * shared machine a barrier waits for the slowest, possibly descheduled, thread. */
#define WHOLE_K_FLOATS (4u << 20)

typedef struct {
  const SgemmArgs *g;
  const float *A, *B;
  float *C;
  int jc, nc, panels, kblocks, mblocks, chunks;
  float *bpack;
  int failed;
} WholeK;

static inline int kc_of(const SgemmArgs *g, int q) { return g->K - q * KC < KC ? g->K - q * KC : KC; }

static void pack_whole_task(void *ctx, int t, int thread) {
  (void)thread;
  WholeK *w = ctx;
  int q = t / w->panels, p = t % w->panels, kc = kc_of(w->g, q);
  float *region = w->bpack + (size_t)q * w->panels * sgemm_kernel.nr * KC;
  pack_b_panel(w->B, w->g->transB, w->g->N, w->g->K, w->jc + p * sgemm_kernel.nr, q * KC, kc, region + (size_t)p * kc * sgemm_kernel.nr);
}

static void macro_whole_task(void *ctx, int t, int thread) {
  WholeK *w = ctx;
  const SgemmArgs *g = w->g;
  int mb = t % w->mblocks, ch = t / w->mblocks;
  int ic = mb * sgemm_kernel.mc, mc = g->M - ic < sgemm_kernel.mc ? g->M - ic : sgemm_kernel.mc;
  int p0 = w->panels * ch / w->chunks, p1 = w->panels * (ch + 1) / w->chunks;
  for (int q = 0; q < w->kblocks; q++) {
    Block b = {g, w->A, w->B, w->C, w->jc, w->nc, q * KC, kc_of(g, q), g->accumulate || q > 0,
               w->bpack + (size_t)q * w->panels * sgemm_kernel.nr * KC, w->mblocks, w->chunks, w->panels, 0};
    if (macro(&b, ic, mc, p0, p1, thread) != 0) { w->failed = 1; return; }
  }
}

/* Row blocks × panel chunks: enough tasks for every thread (twice over, for balance), each at
 * least 4 panels wide. */
static int chunks_for(int mblocks, int panels, int threads) {
  if (mblocks >= 2 * threads) return 1;
  int chunks = (2 * threads + mblocks - 1) / mblocks;
  if (chunks > panels / 4) chunks = panels / 4 > 0 ? panels / 4 : 1;
  return chunks;
}

/* One product (one batch entry) across the pool. */
static int gemm_parallel(const SgemmArgs *g, const float *A, const float *B, float *C) {
  if (g->K == 0) { zero_rows(C, g->M, g->N, g->accumulate); return 0; }
  const int nr = sgemm_kernel.nr, threads = pool_threads(), mblocks = (g->M + sgemm_kernel.mc - 1) / sgemm_kernel.mc;
  for (int jc = 0; jc < g->N; jc += NC) {
    int nc = g->N - jc < NC ? g->N - jc : NC, panels = (nc + nr - 1) / nr, chunks = chunks_for(mblocks, panels, threads);
    int kblocks = (g->K + KC - 1) / KC;
    size_t whole = (size_t)kblocks * panels * nr * KC;
    if (kblocks > 1 && whole <= WHOLE_K_FLOATS) {
      float *bpack = grow(&shared_b, &size_shared_b, whole);
      if (!bpack) return -1;
      WholeK w = {g, A, B, C, jc, nc, panels, kblocks, mblocks, chunks, bpack, 0};
      pool_run(kblocks * panels, pack_whole_task, &w);
      pool_run(mblocks * chunks, macro_whole_task, &w);
      if (w.failed) return -1;
      continue;
    }
    float *bpack = grow(&shared_b, &size_shared_b, (size_t)panels * nr * KC);
    if (!bpack) return -1;
    for (int pc = 0; pc < g->K; pc += KC) {
      int kc = g->K - pc < KC ? g->K - pc : KC;
      Block w = {g, A, B, C, jc, nc, pc, kc, g->accumulate || pc > 0, bpack, mblocks, chunks, panels, 0};
      pool_run(panels, pack_task, &w);
      pool_run(mblocks * chunks, macro_task, &w);
      if (w.failed) return -1;
    }
  }
  return 0;
}

/* One product on one thread, with that thread's own B panels. */
static int gemm_serial(const SgemmArgs *g, const float *A, const float *B, float *C, int thread) {
  if (g->K == 0) { zero_rows(C, g->M, g->N, g->accumulate); return 0; }
  const int nr = sgemm_kernel.nr;
  for (int jc = 0; jc < g->N; jc += NC) {
    int nc = g->N - jc < NC ? g->N - jc : NC, panels = (nc + nr - 1) / nr;
    float *bpack = grow(&scratch_b_serial[thread], &size_b_serial[thread], (size_t)panels * nr * KC);
    if (!bpack) return -1;
    for (int pc = 0; pc < g->K; pc += KC) {
      int kc = g->K - pc < KC ? g->K - pc : KC;
      Block w = {g, A, B, C, jc, nc, pc, kc, g->accumulate || pc > 0, bpack, 1, 1, panels, 0};
      for (int p = 0; p < panels; p++) pack_task(&w, p, thread);
      for (int ic = 0; ic < g->M; ic += sgemm_kernel.mc)
        if (macro(&w, ic, g->M - ic < sgemm_kernel.mc ? g->M - ic : sgemm_kernel.mc, 0, panels, thread) != 0) return -1;
    }
  }
  return 0;
}

int sgemm_serial(const SgemmArgs *g, int thread) {
  for (int b = 0; b < g->batch; b++)
    if (gemm_serial(g, g->A + b * g->strideA, g->B + b * g->strideB, g->C + b * g->strideC, thread) != 0) return -1;
  return 0;
}

typedef struct {
  const SgemmArgs *g;
  int failed;
} Batch;

static void batch_task(void *ctx, int b, int thread) {
  Batch *w = ctx;
  const SgemmArgs *g = w->g;
  if (gemm_serial(g, g->A + b * g->strideA, g->B + b * g->strideB, g->C + b * g->strideC, thread) != 0) w->failed = 1;
}

int sgemm(const SgemmArgs *g) {
  if (g->M == 0 || g->N == 0) return 0;
  double flops = 2.0 * g->M * g->N * g->K;
  /* Many products (attention's [B·H, T, Dh]), or products too small to split: one per task. */
  if (g->batch >= pool_threads() || flops * g->batch < 4e5) {
    Batch w = {g, 0};
    pool_run(g->batch, batch_task, &w);
    return w.failed ? -1 : 0;
  }
  for (int b = 0; b < g->batch; b++)
    if (gemm_parallel(g, g->A + b * g->strideA, g->B + b * g->strideB, g->C + b * g->strideC) != 0) return -1;
  return 0;
}
