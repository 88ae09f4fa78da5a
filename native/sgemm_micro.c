/*
 * sgemm's micro-kernels, one per ISA, chosen at run time by sgemm_init (DS_NATIVE_ISA may lower the
 * choice): AVX-512 12×32 (24 zmm accumulators), AVX2+FMA 6×16, portable C 4×16; each in two forms,
 * A packed [kc, mr] or read in place (row i at a + i·lda). B is always packed [kc, nr], 64-byte aligned.
 */
#include <stdlib.h>
#include <string.h>
#include "sgemm.h"
#include "sgemm_micro.h"

/* c[MR, NR] (= or +=) Σ_k a[k, :]ᵀ b[k, :] over packed a [kc, MR] and b [kc, NR]. */
static void micro_c(int kc, const float *a, const float *b, float *c, size_t ldc, int accumulate) {
  float acc[4][16] = {{0}};
  for (int k = 0; k < kc; k++)
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 16; j++) acc[i][j] += a[k * 4 + i] * b[k * 16 + j];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 16; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

static void micro_c_lda(int kc, const float *a, size_t lda, const float *b, float *c, size_t ldc, int accumulate) {
  float acc[4][16] = {{0}};
  for (int k = 0; k < kc; k++)
    for (int i = 0; i < 4; i++)
      for (int j = 0; j < 16; j++) acc[i][j] += a[i * lda + k] * b[k * 16 + j];
  for (int i = 0; i < 4; i++)
    for (int j = 0; j < 16; j++) c[i * ldc + j] = accumulate ? c[i * ldc + j] + acc[i][j] : acc[i][j];
}

#if defined(__x86_64__)
#include <immintrin.h>
__attribute__((target("avx2,fma"))) static void micro_avx2(int kc, const float *a, const float *b, float *c, size_t ldc, int accumulate) {
  __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00;
  __m256 c30 = c00, c31 = c00, c40 = c00, c41 = c00, c50 = c00, c51 = c00;
  for (int k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(b + k * 16), b1 = _mm256_load_ps(b + k * 16 + 8);
    const float *ak = a + k * 6;
    __m256 a0 = _mm256_broadcast_ss(ak + 0); c00 = _mm256_fmadd_ps(a0, b0, c00); c01 = _mm256_fmadd_ps(a0, b1, c01);
    __m256 a1 = _mm256_broadcast_ss(ak + 1); c10 = _mm256_fmadd_ps(a1, b0, c10); c11 = _mm256_fmadd_ps(a1, b1, c11);
    __m256 a2 = _mm256_broadcast_ss(ak + 2); c20 = _mm256_fmadd_ps(a2, b0, c20); c21 = _mm256_fmadd_ps(a2, b1, c21);
    __m256 a3 = _mm256_broadcast_ss(ak + 3); c30 = _mm256_fmadd_ps(a3, b0, c30); c31 = _mm256_fmadd_ps(a3, b1, c31);
    __m256 a4 = _mm256_broadcast_ss(ak + 4); c40 = _mm256_fmadd_ps(a4, b0, c40); c41 = _mm256_fmadd_ps(a4, b1, c41);
    __m256 a5 = _mm256_broadcast_ss(ak + 5); c50 = _mm256_fmadd_ps(a5, b0, c50); c51 = _mm256_fmadd_ps(a5, b1, c51);
  }
  __m256 r[6][2] = {{c00, c01}, {c10, c11}, {c20, c21}, {c30, c31}, {c40, c41}, {c50, c51}};
  for (int i = 0; i < 6; i++)
    for (int h = 0; h < 2; h++) {
      float *p = c + i * ldc + 8 * h;
      _mm256_storeu_ps(p, accumulate ? _mm256_add_ps(_mm256_loadu_ps(p), r[i][h]) : r[i][h]);
    }
}

/* 12 rows × 32 columns: 24 zmm accumulators, two B vectors, A broadcast from memory. */
__attribute__((target("avx512f"))) static void micro_avx512(int kc, const float *a, const float *b, float *c, size_t ldc, int accumulate) {
  __m512 acc[12][2];
  for (int i = 0; i < 12; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  for (int k = 0; k < kc; k++) {
    __m512 b0 = _mm512_load_ps(b + k * 32), b1 = _mm512_load_ps(b + k * 32 + 16);
    const float *ak = a + k * 12;
#pragma GCC unroll 12
    for (int i = 0; i < 12; i++) {
      __m512 ai = _mm512_set1_ps(ak[i]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < 12; i++) {
    float *p = c + i * ldc;
    if (accumulate) {
      acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(p), acc[i][0]);
      acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(p + 16), acc[i][1]);
    }
    _mm512_storeu_ps(p, acc[i][0]);
    _mm512_storeu_ps(p + 16, acc[i][1]);
  }
}

__attribute__((target("avx2,fma"))) static void micro_avx2_lda(int kc, const float *a, size_t lda, const float *b, float *c, size_t ldc, int accumulate) {
  __m256 acc[6][2];
  for (int i = 0; i < 6; i++) acc[i][0] = acc[i][1] = _mm256_setzero_ps();
  for (int k = 0; k < kc; k++) {
    __m256 b0 = _mm256_load_ps(b + k * 16), b1 = _mm256_load_ps(b + k * 16 + 8);
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
      __m256 ai = _mm256_broadcast_ss(a + i * lda + k);
      acc[i][0] = _mm256_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm256_fmadd_ps(ai, b1, acc[i][1]);
    }
  }
#pragma GCC unroll 6
  for (int i = 0; i < 6; i++)
    for (int h = 0; h < 2; h++) {
      float *p = c + i * ldc + 8 * h;
      _mm256_storeu_ps(p, accumulate ? _mm256_add_ps(_mm256_loadu_ps(p), acc[i][h]) : acc[i][h]);
    }
}

__attribute__((target("avx512f"))) static void micro_avx512_lda(int kc, const float *a, size_t lda, const float *b, float *c, size_t ldc, int accumulate) {
  __m512 acc[12][2];
  for (int i = 0; i < 12; i++) acc[i][0] = acc[i][1] = _mm512_setzero_ps();
  const float *a6 = a + 6 * lda;
  for (int k = 0; k < kc; k++) {
    __m512 b0 = _mm512_load_ps(b + k * 32), b1 = _mm512_load_ps(b + k * 32 + 16);
#pragma GCC unroll 6
    for (int i = 0; i < 6; i++) {
      __m512 ai = _mm512_set1_ps(a[i * lda + k]), aj = _mm512_set1_ps(a6[i * lda + k]);
      acc[i][0] = _mm512_fmadd_ps(ai, b0, acc[i][0]);
      acc[i][1] = _mm512_fmadd_ps(ai, b1, acc[i][1]);
      acc[i + 6][0] = _mm512_fmadd_ps(aj, b0, acc[i + 6][0]);
      acc[i + 6][1] = _mm512_fmadd_ps(aj, b1, acc[i + 6][1]);
    }
  }
#pragma GCC unroll 12
  for (int i = 0; i < 12; i++) {
    float *p = c + i * ldc;
    if (accumulate) {
      acc[i][0] = _mm512_add_ps(_mm512_loadu_ps(p), acc[i][0]);
      acc[i][1] = _mm512_add_ps(_mm512_loadu_ps(p + 16), acc[i][1]);
    }
    _mm512_storeu_ps(p, acc[i][0]);
    _mm512_storeu_ps(p + 16, acc[i][1]);
  }
}
#endif

Micro sgemm_kernel = {4, 16, 128, micro_c, "c"};
micro_lda_fn sgemm_kernel_lda = micro_c_lda;

const char *sgemm_init(void) {
#if defined(__x86_64__)
  __builtin_cpu_init();
  const char *cap = getenv("DS_NATIVE_ISA"); /* lowers the choice: "avx2+fma" or "c" */
  int allow512 = !cap || strcmp(cap, "avx512") == 0, allow2 = allow512 || (cap && strcmp(cap, "avx2+fma") == 0);
  sgemm_kernel = (Micro){4, 16, 128, micro_c, "c"};
  sgemm_kernel_lda = micro_c_lda;
  if (allow512 && __builtin_cpu_supports("avx512f")) { sgemm_kernel = (Micro){12, 32, 144, micro_avx512, "avx512"}; sgemm_kernel_lda = micro_avx512_lda; }
  else if (allow2 && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) { sgemm_kernel = (Micro){6, 16, 144, micro_avx2, "avx2+fma"}; sgemm_kernel_lda = micro_avx2_lda; }
#endif
  return sgemm_kernel.name;
}

const SgemmMicro *sgemm_micro(void) {
  static SgemmMicro m;
  m = (SgemmMicro){sgemm_kernel.mr, sgemm_kernel.nr, sgemm_kernel.fn, sgemm_kernel_lda};
  return &m;
}

