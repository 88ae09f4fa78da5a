// C[M, N] = A[M, K] · W[K, N] in WebAssembly SIMD (f32x4), with W packed once into panels of
// 8 columns: panel p holds W[k, 8p .. 8p+7] for k = 0..K-1, contiguous, so the inner loop
// streams it. A micro-tile of 4 rows × 8 columns keeps its 8 accumulators in registers; each
// step over k loads one 8-float row of the panel and broadcasts one value of each of the 4 rows
// of A. Columns [n0, n1) only (n0, n1 multiples of 8, or n1 = N): threads split C by panels.
//
//   packed: [ceil(N / 8), K, 8]   (the last panel zero-padded)
//   a: [M, K] row-major; c: [M, N] row-major
//
// Packing is done once on the host (gemm.ts). Built by scripts/build_wasm.sh; the .wasm beside
// this file is its output.
#include <stdint.h>
#include <wasm_simd128.h>

#include "../../wasm/kernels/vec_math.h"

// The first n (0..4) lanes of v to c[0..n-1]. (No stack array: instances on other threads share
// this memory, stack region included, so the kernels keep off the stack.)
static inline void store_lanes(float* c, v128_t v, int n) {
  if (n > 0) c[0] = wasm_f32x4_extract_lane(v, 0);
  if (n > 1) c[1] = wasm_f32x4_extract_lane(v, 1);
  if (n > 2) c[2] = wasm_f32x4_extract_lane(v, 2);
  if (n > 3) c[3] = wasm_f32x4_extract_lane(v, 3);
}

// Stores a row's 8 accumulated columns, or the first `cols` of them at the ragged right edge.
static inline void store8(float* c, v128_t lo, v128_t hi, int cols) {
  if (cols == 8) {
    wasm_v128_store(c, lo);
    wasm_v128_store(c + 4, hi);
    return;
  }
  store_lanes(c, lo, cols < 4 ? cols : 4);
  if (cols > 4) store_lanes(c + 4, hi, cols - 4);
}

__attribute__((export_name("gemm"))) void gemm(const float* a, const float* packed, float* c, int32_t M, int32_t K, int32_t N,
                                                int32_t n0, int32_t n1) {
  for (int p = n0 / 8; p * 8 < n1; p++) {
    const float* w = packed + (int64_t)p * K * 8;
    const int cols = n1 - p * 8 < 8 ? n1 - p * 8 : 8;
    int m = 0;
    for (; m + 4 <= M; m += 4) {
      const float* a0 = a + (int64_t)m * K;
      const float* a1 = a0 + K;
      const float* a2 = a1 + K;
      const float* a3 = a2 + K;
      v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      for (int k = 0; k < K; k++) {
        const v128_t w0 = wasm_v128_load(w + 8 * k);
        const v128_t w1 = wasm_v128_load(w + 8 * k + 4);
        const v128_t x0 = wasm_v128_load32_splat(a0 + k);
        const v128_t x1 = wasm_v128_load32_splat(a1 + k);
        const v128_t x2 = wasm_v128_load32_splat(a2 + k);
        const v128_t x3 = wasm_v128_load32_splat(a3 + k);
        c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(x0, w0));
        c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(x0, w1));
        c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(x1, w0));
        c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(x1, w1));
        c20 = wasm_f32x4_add(c20, wasm_f32x4_mul(x2, w0));
        c21 = wasm_f32x4_add(c21, wasm_f32x4_mul(x2, w1));
        c30 = wasm_f32x4_add(c30, wasm_f32x4_mul(x3, w0));
        c31 = wasm_f32x4_add(c31, wasm_f32x4_mul(x3, w1));
      }
      float* cr = c + (int64_t)m * N + p * 8;
      store8(cr, c00, c01, cols);
      store8(cr + N, c10, c11, cols);
      store8(cr + 2 * N, c20, c21, cols);
      store8(cr + 3 * N, c30, c31, cols);
    }
    // Two leftover rows share one pass over the panel (a small batch's rows each cost a full
    // read of the weights, which is what bounds decode at batch 1-3).
    if (m + 2 <= M) {
      const float* a0 = a + (int64_t)m * K;
      const float* a1 = a0 + K;
      v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00;
      for (int k = 0; k < K; k++) {
        const v128_t w0 = wasm_v128_load(w + 8 * k);
        const v128_t w1 = wasm_v128_load(w + 8 * k + 4);
        const v128_t x0 = wasm_v128_load32_splat(a0 + k);
        const v128_t x1 = wasm_v128_load32_splat(a1 + k);
        c00 = wasm_f32x4_add(c00, wasm_f32x4_mul(x0, w0));
        c01 = wasm_f32x4_add(c01, wasm_f32x4_mul(x0, w1));
        c10 = wasm_f32x4_add(c10, wasm_f32x4_mul(x1, w0));
        c11 = wasm_f32x4_add(c11, wasm_f32x4_mul(x1, w1));
      }
      float* cr = c + (int64_t)m * N + p * 8;
      store8(cr, c00, c01, cols);
      store8(cr + N, c10, c11, cols);
      m += 2;
    }
    for (; m < M; m++) {
      const float* a0 = a + (int64_t)m * K;
      // two independent chains over even and odd k hide the add latency of a single row
      v128_t e0 = wasm_f32x4_splat(0.0f), e1 = e0, o0 = e0, o1 = e0;
      int k = 0;
      for (; k + 2 <= K; k += 2) {
        const v128_t x0 = wasm_v128_load32_splat(a0 + k);
        const v128_t x1 = wasm_v128_load32_splat(a0 + k + 1);
        e0 = wasm_f32x4_add(e0, wasm_f32x4_mul(x0, wasm_v128_load(w + 8 * k)));
        e1 = wasm_f32x4_add(e1, wasm_f32x4_mul(x0, wasm_v128_load(w + 8 * k + 4)));
        o0 = wasm_f32x4_add(o0, wasm_f32x4_mul(x1, wasm_v128_load(w + 8 * k + 8)));
        o1 = wasm_f32x4_add(o1, wasm_f32x4_mul(x1, wasm_v128_load(w + 8 * k + 12)));
      }
      if (k < K) {
        const v128_t x0 = wasm_v128_load32_splat(a0 + k);
        e0 = wasm_f32x4_add(e0, wasm_f32x4_mul(x0, wasm_v128_load(w + 8 * k)));
        e1 = wasm_f32x4_add(e1, wasm_f32x4_mul(x0, wasm_v128_load(w + 8 * k + 4)));
      }
      store8(c + (int64_t)m * N + p * 8, wasm_f32x4_add(e0, o0), wasm_f32x4_add(e1, o1), cols);
    }
  }
}

// SwiGLU on the fused gate/up product: out[n, f] = silu(gu[n, f]) · gu[n, F + f] for n < rows,
// gu [rows, 2F] (gate columns, then up), out [rows, F]. silu(g) = g / (1 + e^-g), computed as
// g / (1 + t) for g >= 0 and g·t / (1 + t) for g < 0, with t = e^-|g| (so the exponential never
// overflows).
__attribute__((export_name("silu_mul"))) void silu_mul(const float* gu, float* out, int32_t F, int32_t rows) {
  const int f4 = F - F % 4;
  for (int n = 0; n < rows; n++) {
    const float* g = gu + (int64_t)n * 2 * F;
    const float* u = g + F;
    float* o = out + (int64_t)n * F;
    for (int f = 0; f < f4; f += 4) {
      const v128_t x = wasm_v128_load(g + f);
      const v128_t t = exp_nonpos4(wasm_f32x4_neg(wasm_f32x4_abs(x)));
      const v128_t num = wasm_v128_bitselect(x, wasm_f32x4_mul(x, t), wasm_f32x4_ge(x, wasm_f32x4_splat(0.0f)));
      const v128_t s = wasm_f32x4_div(num, wasm_f32x4_add(wasm_f32x4_splat(1.0f), t));
      wasm_v128_store(o + f, wasm_f32x4_mul(s, wasm_v128_load(u + f)));
    }
    for (int f = f4; f < F; f++) {
      const float x = g[f];
      const float t = exp_nonpos(x < 0 ? x : -x);
      o[f] = (x >= 0 ? x : x * t) / (1.0f + t) * u[f];
    }
  }
}
