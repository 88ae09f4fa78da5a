// Products with stored-format weights for many activation rows (prefill, large batches): each
// panel of 8 weight rows is dequantized once into float32 [K, 8] (the layout gemm.c packs), then
// a 4 × 8 register tile runs over all M rows of float32 activations. The dequantization costs
// 1/M of the product, so from a few rows on this beats the 8-bit dot kernels (qdot.c, kdot.c),
// and it reads the activations unrounded. Block layouts: qdot.c, kdot.c. Built by
// scripts/build_wasm.sh.
//
//   a [M, K] float, w: N rows of `rowBytes`, c[m * ldc + n] for n < N, panel: K · 8 floats of scratch.
#include "qdot.h"

// ggml type ids (ggml.h)
enum { T_F16 = 1, T_Q4_0 = 2, T_Q4_1 = 3, T_Q5_0 = 6, T_Q5_1 = 7, T_Q8_0 = 8, T_Q2_K = 10, T_Q3_K = 11, T_Q4_K = 12, T_Q5_K = 13, T_Q6_K = 14, T_BF16 = 30 };

static void k_scale_min(int j, const uint8_t* q, int* sc, int* mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
    *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// Row `r` (K elements of `type`) into column j of panel [K, 8].
static void dequant_row(int type, const uint8_t* r, int K, float* panel, int j) {
  float* out = panel + j;
  switch (type) {
    case T_F16:
      for (int k = 0; k < K; k++) out[8 * k] = f16_to_f32(rd16(r + 2 * k));
      return;
    case T_BF16:
      for (int k = 0; k < K; k++) {
        union { uint32_t u; float f; } v = {(uint32_t)rd16(r + 2 * k) << 16};
        out[8 * k] = v.f;
      }
      return;
    case T_Q8_0:
      for (int b = 0; b < K / 32; b++) {
        const uint8_t* blk = r + 34 * b;
        const float d = f16_to_f32(rd16(blk));
        for (int l = 0; l < 32; l++) out[8 * (32 * b + l)] = d * (float)(int8_t)blk[2 + l];
      }
      return;
    case T_Q4_0: case T_Q4_1: case T_Q5_0: case T_Q5_1: {
      const int hasMin = type == T_Q4_1 || type == T_Q5_1, hasHigh = type == T_Q5_0 || type == T_Q5_1;
      const int size = 18 + 2 * hasMin + 4 * hasHigh, qsAt = 2 + 2 * hasMin + 4 * hasHigh;
      const float offset = type == T_Q4_0 ? 8.0f : type == T_Q5_0 ? 16.0f : 0.0f;
      for (int b = 0; b < K / 32; b++) {
        const uint8_t* blk = r + size * b;
        const float d = f16_to_f32(rd16(blk)), m = hasMin ? f16_to_f32(rd16(blk + 2)) : 0.0f;
        const uint32_t qh = hasHigh ? (uint32_t)rd16(blk + 2 + 2 * hasMin) | ((uint32_t)rd16(blk + 4 + 2 * hasMin) << 16) : 0;
        for (int l = 0; l < 16; l++) {
          const int q = blk[qsAt + l];
          const int lo = (q & 15) | (((qh >> l) & 1) << 4), hi = (q >> 4) | (((qh >> (l + 16)) & 1) << 4);
          out[8 * (32 * b + l)] = d * ((float)lo - offset) + m;
          out[8 * (32 * b + l + 16)] = d * ((float)hi - offset) + m;
        }
      }
      return;
    }
    case T_Q4_K: case T_Q5_K: {
      const int five = type == T_Q5_K, size = five ? 176 : 144, qsAt = five ? 48 : 16;
      for (int i = 0; i < K / 256; i++) {
        const uint8_t* blk = r + size * i;
        const float d = f16_to_f32(rd16(blk)), dmin = f16_to_f32(rd16(blk + 2));
        for (int s = 0; s < 8; s++) {
          int sc, mn;
          k_scale_min(s, blk + 4, &sc, &mn);
          const float ds = d * (float)sc, dm = dmin * (float)mn;
          const uint8_t* q = blk + qsAt + 32 * (s >> 1);
          for (int l = 0; l < 32; l++) {
            int v = s & 1 ? q[l] >> 4 : q[l] & 15;
            if (five) v |= ((blk[16 + l] >> s) & 1) << 4;
            out[8 * (256 * i + 32 * s + l)] = ds * (float)v - dm;
          }
        }
      }
      return;
    }
    case T_Q2_K: case T_Q3_K: {
      // Q2_K (84 B): scales[16] | qs[64] | f16 d | f16 dmin;  Q3_K (110 B): hmask[32] | qs[64] | scales[12] | f16 d
      // element e: n = e >> 7, j = (e >> 5) & 3, h = (e >> 4) & 1, l = e & 15 (kquant_low.ts)
      const int three = type == T_Q3_K;
      for (int i = 0; i < K / 256; i++) {
        const uint8_t* blk = r + (three ? 110 : 84) * i;
        const float d = f16_to_f32(rd16(blk + (three ? 108 : 80))), dmin = three ? 0.0f : f16_to_f32(rd16(blk + 82));
        const uint8_t* qs = blk + (three ? 32 : 16);
        for (int sub = 0; sub < 16; sub++) {
          const int n = sub >> 3, j = (sub >> 1) & 3, h = sub & 1;
          float ds, dm;
          if (three) {
            const uint8_t* sc = blk + 96;
            const int low = sub < 8 ? sc[sub] & 15 : sc[sub - 8] >> 4;
            ds = d * (float)((low | (((sc[8 + (sub & 3)] >> (2 * (sub >> 2))) & 3) << 4)) - 32);
            dm = 0.0f;
          } else {
            ds = d * (float)(blk[sub] & 15);
            dm = dmin * (float)(blk[sub] >> 4);
          }
          for (int l = 0; l < 16; l++) {
            int q = (qs[32 * n + 16 * h + l] >> (2 * j)) & 3;
            if (three && !((blk[16 * h + l] >> (4 * n + j)) & 1)) q -= 4;
            out[8 * (256 * i + 16 * sub + l)] = ds * (float)q - dm;
          }
        }
      }
      return;
    }
    case T_Q6_K:
      for (int i = 0; i < K / 256; i++) {
        const uint8_t* blk = r + 210 * i;
        const float d = f16_to_f32(rd16(blk + 208));
        for (int h = 0; h < 2; h++) {
          for (int g = 0; g < 4; g++) {
            const uint8_t* ql = blk + 64 * h + 32 * (g & 1);
            const uint8_t* qh = blk + 128 + 32 * h;
            for (int l = 0; l < 32; l++) {
              const int lo = g >> 1 ? ql[l] >> 4 : ql[l] & 15;
              const int q = (lo | (((qh[l] >> (2 * g)) & 3) << 4)) - 32;
              const int sc = (int8_t)blk[192 + 8 * h + 2 * g + (l >> 4)];
              out[8 * (256 * i + 128 * h + 32 * g + l)] = d * (float)sc * (float)q;
            }
          }
        }
      }
      return;
  }
}

static inline void store_cols(float* c, v128_t lo, v128_t hi, int cols) {
  if (cols == 8) {
    wasm_v128_store(c, lo);
    wasm_v128_store(c + 4, hi);
    return;
  }
  // the ragged right edge, lane by lane (no stack array: other threads share this memory)
  if (cols > 0) c[0] = wasm_f32x4_extract_lane(lo, 0);
  if (cols > 1) c[1] = wasm_f32x4_extract_lane(lo, 1);
  if (cols > 2) c[2] = wasm_f32x4_extract_lane(lo, 2);
  if (cols > 3) c[3] = wasm_f32x4_extract_lane(lo, 3);
  if (cols > 4) c[4] = wasm_f32x4_extract_lane(hi, 0);
  if (cols > 5) c[5] = wasm_f32x4_extract_lane(hi, 1);
  if (cols > 6) c[6] = wasm_f32x4_extract_lane(hi, 2);
}

#define MAC(acc, x, w) acc = wasm_f32x4_add(acc, wasm_f32x4_mul(x, w))

__attribute__((export_name("dq_gemm"))) void dq_gemm(const float* a, int32_t M, int32_t K, int32_t type, const uint8_t* w, int32_t rowBytes,
                                                      int32_t N, float* c, int32_t ldc, float* panel) {
  for (int n0 = 0; n0 < N; n0 += 8) {
    const int cols = N - n0 < 8 ? N - n0 : 8;
    for (int j = 0; j < 8; j++) {
      if (j < cols) dequant_row(type, w + (int64_t)(n0 + j) * rowBytes, K, panel, j);
      else for (int k = 0; k < K; k++) panel[8 * k + j] = 0.0f;
    }
    int m = 0;
    for (; m + 4 <= M; m += 4) {
      const float* a0 = a + (int64_t)m * K;
      const float *a1 = a0 + K, *a2 = a1 + K, *a3 = a2 + K;
      v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00, c10 = c00, c11 = c00, c20 = c00, c21 = c00, c30 = c00, c31 = c00;
      for (int k = 0; k < K; k++) {
        const v128_t w0 = wasm_v128_load(panel + 8 * k), w1 = wasm_v128_load(panel + 8 * k + 4);
        const v128_t x0 = wasm_v128_load32_splat(a0 + k), x1 = wasm_v128_load32_splat(a1 + k);
        const v128_t x2 = wasm_v128_load32_splat(a2 + k), x3 = wasm_v128_load32_splat(a3 + k);
        MAC(c00, x0, w0); MAC(c01, x0, w1); MAC(c10, x1, w0); MAC(c11, x1, w1);
        MAC(c20, x2, w0); MAC(c21, x2, w1); MAC(c30, x3, w0); MAC(c31, x3, w1);
      }
      float* cr = c + (int64_t)m * ldc + n0;
      store_cols(cr, c00, c01, cols);
      store_cols(cr + ldc, c10, c11, cols);
      store_cols(cr + 2 * ldc, c20, c21, cols);
      store_cols(cr + 3 * ldc, c30, c31, cols);
    }
    for (; m < M; m++) {
      const float* a0 = a + (int64_t)m * K;
      v128_t c00 = wasm_f32x4_splat(0.0f), c01 = c00;
      for (int k = 0; k < K; k++) {
        const v128_t x0 = wasm_v128_load32_splat(a0 + k);
        MAC(c00, x0, wasm_v128_load(panel + 8 * k));
        MAC(c01, x0, wasm_v128_load(panel + 8 * k + 4));
      }
      store_cols(c + (int64_t)m * ldc + n0, c00, c01, cols);
    }
  }
}
