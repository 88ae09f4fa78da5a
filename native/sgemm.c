/*
 * Float32 batched matrix product for training: C[b] = op(A[b]) · op(B[b]), op = identity or
 * transpose, on `threads` POSIX threads, with an AVX2+FMA micro-kernel where the CPU has them
 * (chosen at run time) and portable C otherwise.
 *
 * Blocking (Goto/BLIS style): K in blocks of KC; per K block, op(B) is packed once into panels of
 * NR = 16 columns ([ceil(N/16), KC, 16], zero-padded), shared by all threads; each thread takes
 * a range of MR = 6 row blocks, packs op(A) rows into [KC, 6] and runs the 6×16 micro-kernel
 * (12 ymm accumulators) over every panel, adding into C after the first K block. Packing reads
 * either layout, so a transposed operand costs no extra pass.
 */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include "sgemm.h"

#define MR 6
#define NR 16
#define KC 256

typedef void (*micro_fn)(int kc, const float *a, const float *b, float *c, int ldc, int accumulate);

/* c[6, 16] (= or +=) a[kc, 6]ᵀ-packed · b[kc, 16]-packed. */
static void micro_c(int kc, const float *a, const float *b, float *c, int ldc, int accumulate) {
  float acc[MR][NR] = {{0}};
  for (int k = 0; k < kc; k++)
    for (int i = 0; i < MR; i++) {
      float av = a[k * MR + i];
      for (int j = 0; j < NR; j++) acc[i][j] += av * b[k * NR + j];
    }
  for (int i = 0; i < MR; i++)
    for (int j = 0; j < NR; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2,fma"))) static void micro_avx2(int kc, const float *a, const float *b, float *c, int ldc, int accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = 0; k < kc; k++) {
    __m256 b0 = _mm256_loadu_ps(b + k * NR), b1 = _mm256_loadu_ps(b + k * NR + 8);
    const float *ak = a + k * MR;
    __m256 a0 = _mm256_broadcast_ss(ak + 0); c00 = _mm256_fmadd_ps(a0, b0, c00); c01 = _mm256_fmadd_ps(a0, b1, c01);
    __m256 a1 = _mm256_broadcast_ss(ak + 1); c10 = _mm256_fmadd_ps(a1, b0, c10); c11 = _mm256_fmadd_ps(a1, b1, c11);
    __m256 a2 = _mm256_broadcast_ss(ak + 2); c20 = _mm256_fmadd_ps(a2, b0, c20); c21 = _mm256_fmadd_ps(a2, b1, c21);
    __m256 a3 = _mm256_broadcast_ss(ak + 3); c30 = _mm256_fmadd_ps(a3, b0, c30); c31 = _mm256_fmadd_ps(a3, b1, c31);
    __m256 a4 = _mm256_broadcast_ss(ak + 4); c40 = _mm256_fmadd_ps(a4, b0, c40); c41 = _mm256_fmadd_ps(a4, b1, c41);
    __m256 a5 = _mm256_broadcast_ss(ak + 5); c50 = _mm256_fmadd_ps(a5, b0, c50); c51 = _mm256_fmadd_ps(a5, b1, c51);
  }
  __m256 r[MR][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int i = 0; i < MR; i++)
    for (int h = 0; h < 2; h++) {
      float *p = c + i * ldc + 8 * h;
      _mm256_storeu_ps(p, accumulate ? _mm256_add_ps(_mm256_loadu_ps(p), r[i][h]) : r[i][h]);
    }
}
#endif

static micro_fn micro = micro_c;
static const char *isa = "c";

const char *sgemm_init(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) { micro = micro_avx2; isa = "avx2+fma"; }
#endif
  return isa;
}

/* One thread's share: batch entries [b0, b1), and in each the row blocks [rb0, rb1). */
typedef struct {
  const SgemmArgs *g;
  int b0, b1, rb0, rb1;
  int failed;
} Work;

/* op(A)[i, k] for the row-major stored A. */
static inline float a_at(const SgemmArgs *g, const float *A, int i, int k) {
  return g->transA ? A[(size_t)k * g->M + i] : A[(size_t)i * g->K + k];
}

/* Packs op(B)[k0 .. k0+kc, :] into [panels, kc, 16]. */
static void pack_b(const SgemmArgs *g, const float *B, int k0, int kc, float *dst) {
  int panels = (g->N + NR - 1) / NR;
  for (int pnl = 0; pnl < panels; pnl++)
    for (int k = 0; k < kc; k++) {
      float *d = dst + ((size_t)pnl * kc + k) * NR;
      for (int j = 0; j < NR; j++) {
        int n = pnl * NR + j;
        d[j] = n >= g->N ? 0.0f : g->transB ? B[(size_t)n * g->K + k0 + k] : B[(size_t)(k0 + k) * g->N + n];
      }
    }
}

static void rows(const SgemmArgs *g, const float *A, const float *bpack, float *C, int k0, int kc, int rb0, int rb1) {
  float apack[KC * MR];
  float tile[MR * NR];
  int panels = (g->N + NR - 1) / NR;
  for (int rb = rb0; rb < rb1; rb++) {
    int i0 = rb * MR, mr = g->M - i0 < MR ? g->M - i0 : MR;
    for (int k = 0; k < kc; k++)
      for (int i = 0; i < MR; i++) apack[k * MR + i] = i < mr ? a_at(g, A, i0 + i, k0 + k) : 0.0f;
    for (int pnl = 0; pnl < panels; pnl++) {
      int j0 = pnl * NR, nr = g->N - j0 < NR ? g->N - j0 : NR;
      const float *bp = bpack + (size_t)pnl * kc * NR;
      float *c = C + (size_t)i0 * g->N + j0;
      if (mr == MR && nr == NR) {
        micro(kc, apack, bp, c, g->N, k0 > 0);
      } else {
        micro(kc, apack, bp, tile, NR, 0);
        for (int i = 0; i < mr; i++)
          for (int j = 0; j < nr; j++) c[(size_t)i * g->N + j] = (k0 > 0 ? c[(size_t)i * g->N + j] : 0.0f) + tile[i * NR + j];
      }
    }
  }
}

static void *run(void *p) {
  Work *w = p;
  const SgemmArgs *g = w->g;
  int panels = (g->N + NR - 1) / NR;
  float *bpack = malloc(sizeof(float) * (size_t)panels * KC * NR);
  if (!bpack) { w->failed = 1; return NULL; }
  for (int b = w->b0; b < w->b1; b++) {
    const float *A = g->A + (size_t)b * g->strideA, *B = g->B + (size_t)b * g->strideB;
    float *C = g->C + (size_t)b * g->strideC;
    if (g->K == 0) {
      for (int i = w->rb0 * MR; i < g->M && i < w->rb1 * MR; i++) memset(C + (size_t)i * g->N, 0, sizeof(float) * g->N);
      continue;
    }
    for (int k0 = 0; k0 < g->K; k0 += KC) {
      int kc = g->K - k0 < KC ? g->K - k0 : KC;
      pack_b(g, B, k0, kc, bpack);
      rows(g, A, bpack, C, k0, kc, w->rb0, w->rb1);
    }
  }
  free(bpack);
  return NULL;
}

#define MAX_THREADS 64

int sgemm(const SgemmArgs *g) {
  int rowBlocks = (g->M + MR - 1) / MR;
  int threads = g->threads < 1 ? 1 : g->threads > MAX_THREADS ? MAX_THREADS : g->threads;
  /* Below ~2 MFLOP a thread start (tens of µs) costs more than it saves. */
  if ((double)g->batch * g->M * g->N * g->K < 1e6) threads = 1;
  Work work[MAX_THREADS];
  pthread_t tid[MAX_THREADS];
  int started[MAX_THREADS] = {0};
  int n = 0;
  if (g->batch >= threads) {
    /* Many small products (attention's [B·H, T, Dh]): whole batch entries per thread. */
    for (int t = 0; t < threads; t++) work[n++] = (Work){g, g->batch * t / threads, g->batch * (t + 1) / threads, 0, rowBlocks, 0};
  } else {
    /* Few large products: every thread takes a slice of each entry's rows. */
    int per = threads / g->batch;
    for (int b = 0; b < g->batch; b++)
      for (int t = 0; t < per; t++) work[n++] = (Work){g, b, b + 1, rowBlocks * t / per, rowBlocks * (t + 1) / per, 0};
  }
  for (int t = 1; t < n; t++) started[t] = pthread_create(&tid[t], NULL, run, &work[t]) == 0;
  run(&work[0]);
  int failed = work[0].failed;
  for (int t = 1; t < n; t++) {
    if (started[t]) pthread_join(tid[t], NULL);
    else run(&work[t]);
    failed |= work[t].failed;
  }
  return failed ? -1 : 0;
}
