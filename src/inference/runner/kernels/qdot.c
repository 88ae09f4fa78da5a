// Products with weights kept in their stored format, part 1: the activations' 8-bit quantizer,
// the 32-element block types (Q8_0, Q4_0) against it, and F16 / BF16 rows against float32
// activations (widened in registers). Layouts and conventions: qdot.h. Built by
// scripts/build_wasm.sh; the .wasm beside this file is its output.
//
//   Q8_0 block (34 B): f16 d | int8 q[32]          x = d · q
//   Q4_0 block (18 B): f16 d | uint8 qs[16]        x[j] = d · ((qs[j] & 15) − 8), x[j+16] = d · ((qs[j] >> 4) − 8)
//   Q4_1 (20 B): f16 d | f16 m | qs[16]            x = d · q + m
//   Q5_0 (22 B): f16 d | u8 qh[4] | qs[16]         x = d · (q − 16), q = nibble | (bit j of qh) << 4
//   Q5_1 (24 B): f16 d | f16 m | u8 qh[4] | qs[16] x = d · q + m
// A block with a min m adds m · d_a · s (the activations' block sum) to the integer part.
#include "qdot.h"

// A [M, K] float → qs, d, s (K a multiple of 32). d = max|a| / 127 per block, q = round(a / d).
__attribute__((export_name("quantize_q8"))) void quantize_q8(const float* a, int32_t M, int32_t K, int16_t* qs, float* d, int32_t* s) {
  const int nb = K / QK;
  for (int64_t i = 0; i < (int64_t)M * nb; i++) {
    const float* x = a + i * QK;
    v128_t mx = wasm_f32x4_splat(0.0f);
    for (int j = 0; j < QK; j += 4) mx = wasm_f32x4_max(mx, wasm_f32x4_abs(wasm_v128_load(x + j)));
    mx = wasm_f32x4_max(mx, wasm_i32x4_shuffle(mx, mx, 2, 3, 0, 1));
    const float amax = wasm_f32x4_extract_lane(wasm_f32x4_max(mx, wasm_i32x4_shuffle(mx, mx, 1, 0, 3, 2)), 0);
    const float scale = amax / 127.0f;
    const v128_t id = wasm_f32x4_splat(scale > 0 ? 1.0f / scale : 0.0f);
#define Q4(o) wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_nearest(wasm_f32x4_mul(wasm_v128_load(x + (o)), id)))
    const v128_t q0 = wasm_i16x8_narrow_i32x4(Q4(0), Q4(4)), q1 = wasm_i16x8_narrow_i32x4(Q4(8), Q4(12));
    const v128_t q2 = wasm_i16x8_narrow_i32x4(Q4(16), Q4(20)), q3 = wasm_i16x8_narrow_i32x4(Q4(24), Q4(28));
#undef Q4
    int16_t* o = qs + i * QK;
    wasm_v128_store(o, q0);
    wasm_v128_store(o + 8, q1);
    wasm_v128_store(o + 16, q2);
    wasm_v128_store(o + 24, q3);
    const v128_t s4 = wasm_i32x4_add(wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(q0, q1)), wasm_i32x4_extadd_pairwise_i16x8(wasm_i16x8_add(q2, q3)));
    d[i] = scale;
    s[i] = wasm_i32x4_extract_lane(s4, 0) + wasm_i32x4_extract_lane(s4, 1) + wasm_i32x4_extract_lane(s4, 2) + wasm_i32x4_extract_lane(s4, 3);
  }
}

static inline v128_t b16(void) { return wasm_i8x16_splat(16); }

INLINE void row_q8_0(ROW_ARGS) {
  ACC_INIT;
  for (int b = 0; b < A.K / QK; b++) {
    const uint8_t* blk = row + 34 * b;
    const float dw = f16_to_f32(rd16(blk));
    const v128_t w0 = wasm_v128_load(blk + 2), w1 = wasm_v128_load(blk + 18);
#define ISUM(r) dot32(w0, w1, ACT_QS(A, r) + QK * b)
#define SCALE(r) (dw * ACT_D(A, r, b))
    ACC4(T, ISUM, SCALE);
#undef ISUM
#undef SCALE
  }
  ACC_OUT(T, 0, 0, 0, 0);
}

INLINE void row_q4_0(ROW_ARGS) {
  ACC_INIT;
  const v128_t lo4 = wasm_i8x16_splat(15), eight = wasm_i8x16_splat(8);
  for (int b = 0; b < A.K / QK; b++) {
    const uint8_t* blk = row + 18 * b;
    const float dw = f16_to_f32(rd16(blk));
    const v128_t q = wasm_v128_load(blk + 2);
    const v128_t w0 = wasm_i8x16_sub(wasm_v128_and(q, lo4), eight), w1 = wasm_i8x16_sub(wasm_u8x16_shr(q, 4), eight);
#define ISUM(r) dot32(w0, w1, ACT_QS(A, r) + QK * b)
#define SCALE(r) (dw * ACT_D(A, r, b))
    ACC4(T, ISUM, SCALE);
#undef ISUM
#undef SCALE
  }
  ACC_OUT(T, 0, 0, 0, 0);
}

// The fifth bits of a Q5 block as 0x10 or 0 per element: (elements 0..15, elements 16..31).
INLINE void q5_high(const uint8_t* qh, v128_t* h0, v128_t* h1) {
  const v128_t q = wasm_v128_load32_splat(qh);
  const v128_t bit = wasm_i8x16_const(1, 2, 4, 8, 16, 32, 64, -128, 1, 2, 4, 8, 16, 32, 64, -128);
  const v128_t x0 = wasm_i8x16_swizzle(q, wasm_i8x16_const(0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 1, 1, 1, 1));
  const v128_t x1 = wasm_i8x16_swizzle(q, wasm_i8x16_const(2, 2, 2, 2, 2, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3));
  const v128_t zero = wasm_i8x16_splat(0), b4 = wasm_i8x16_splat(16);
  *h0 = wasm_v128_andnot(b4, wasm_i8x16_eq(wasm_v128_and(x0, bit), zero));
  *h1 = wasm_v128_andnot(b4, wasm_i8x16_eq(wasm_v128_and(x1, bit), zero));
}

// Q4_1 (min 1, hasHigh 0, size 20), Q5_0 (min 0, hasHigh 1, size 22), Q5_1 (min 1, hasHigh 1, size 24).
INLINE void row_legacy(const int hasMin, const int hasHigh, const int size, ROW_ARGS) {
  ACC_INIT;
  float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
  const v128_t lo4 = wasm_i8x16_splat(15);
  const int qsAt = 2 + 2 * hasMin + 4 * hasHigh;
  for (int b = 0; b < A.K / QK; b++) {
    const uint8_t* blk = row + size * b;
    const float dw = f16_to_f32(rd16(blk));
    const v128_t q = wasm_v128_load(blk + qsAt);
    v128_t w0 = wasm_v128_and(q, lo4), w1 = wasm_u8x16_shr(q, 4);
    if (hasHigh) {
      v128_t h0, h1;
      q5_high(blk + 2 + 2 * hasMin, &h0, &h1);
      w0 = wasm_v128_or(w0, h0);
      w1 = wasm_v128_or(w1, h1);
      if (!hasMin) {
        w0 = wasm_i8x16_sub(w0, b16());
        w1 = wasm_i8x16_sub(w1, b16());
      }
    }
#define ISUM(r) dot32(w0, w1, ACT_QS(A, r) + QK * b)
#define SCALE(r) (dw * ACT_D(A, r, b))
    ACC4(T, ISUM, SCALE);
#undef ISUM
#undef SCALE
    if (hasMin) {
      const float mw = f16_to_f32(rd16(blk + 2));
      m0 += mw * ACT_D(A, 0, b) * (float)ACT_S(A, 0, b);
      if (T > 1) m1 += mw * ACT_D(A, 1, b) * (float)ACT_S(A, 1, b);
      if (T > 2) m2 += mw * ACT_D(A, 2, b) * (float)ACT_S(A, 2, b);
      if (T > 3) m3 += mw * ACT_D(A, 3, b) * (float)ACT_S(A, 3, b);
    }
  }
  ACC_OUT(T, m0, m1, m2, m3);
}

INLINE void row_q4_1(ROW_ARGS) { row_legacy(1, 0, 20, T, row, A, o0, o1, o2, o3); }
INLINE void row_q5_0(ROW_ARGS) { row_legacy(0, 1, 22, T, row, A, o0, o1, o2, o3); }
INLINE void row_q5_1(ROW_ARGS) { row_legacy(1, 1, 24, T, row, A, o0, o1, o2, o3); }

#define QDOT_EXPORT(name, ROWFN, blockBytes)                                                                        \
  __attribute__((export_name(#name))) void name(const int16_t* qs, const float* d, const int32_t* s, int32_t M, int32_t K, \
                                                const uint8_t* w, int32_t n0, int32_t n1, float* c, int32_t ldc) {    \
    const int64_t rowBytes = (int64_t)(K / QK) * (blockBytes);                                                      \
    TILE_DISPATCH(ROWFN, w, rowBytes, qs, d, s, M, K, n0, n1, c, ldc)                                               \
  }

QDOT_EXPORT(dot_q8_0, row_q8_0, 34)
QDOT_EXPORT(dot_q4_0, row_q4_0, 18)
QDOT_EXPORT(dot_q4_1, row_q4_1, 20)
QDOT_EXPORT(dot_q5_0, row_q5_0, 22)
QDOT_EXPORT(dot_q5_1, row_q5_1, 24)

// 8 halves → two float32x4 (the same trick as f16_to_f32, lane-wise).
INLINE void widen_f16(v128_t h, v128_t* lo, v128_t* hi) {
  const v128_t mag = wasm_v128_and(h, wasm_i16x8_splat(0x7fff)), sign = wasm_v128_and(h, wasm_i16x8_splat((short)0x8000));
  const v128_t k = wasm_f32x4_splat(0x1p112f);
  *lo = wasm_v128_or(wasm_f32x4_mul(wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(mag), 13), k), wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(sign), 16));
  *hi = wasm_v128_or(wasm_f32x4_mul(wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(mag), 13), k), wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(sign), 16));
}

INLINE void widen_bf16(v128_t h, v128_t* lo, v128_t* hi) {
  *lo = wasm_i32x4_shl(wasm_u32x4_extend_low_u16x8(h), 16);
  *hi = wasm_i32x4_shl(wasm_u32x4_extend_high_u16x8(h), 16);
}

INLINE float widen1(int bf, uint16_t h) {
  union { uint32_t u; float f; } v = {(uint32_t)h << 16};
  return bf ? v.f : f16_to_f32(h);
}

// C[m, n] = Σ_k a[m, k] · w[n, k] for 16-bit float rows w [N, K] (bf: BF16, else F16), a [M, K] float.
INLINE void dot16bit(const int bf, const int T, const float* a, int K, const uint16_t* wr, float* c, int ldc, int n) {
  v128_t c0 = wasm_f32x4_splat(0.0f), c1 = c0, c2 = c0, c3 = c0;
  int k = 0;
  for (; k + 8 <= K; k += 8) {
    v128_t lo, hi;
    if (bf) widen_bf16(wasm_v128_load(wr + k), &lo, &hi);
    else widen_f16(wasm_v128_load(wr + k), &lo, &hi);
#define FMA(cr, r) cr = wasm_f32x4_add(cr, wasm_f32x4_add(wasm_f32x4_mul(lo, wasm_v128_load(a + (int64_t)(r) * K + k)), wasm_f32x4_mul(hi, wasm_v128_load(a + (int64_t)(r) * K + k + 4))))
    FMA(c0, 0);
    if (T > 1) FMA(c1, 1);
    if (T > 2) FMA(c2, 2);
    if (T > 3) FMA(c3, 3);
#undef FMA
  }
  float t0 = 0, t1 = 0, t2 = 0, t3 = 0;
  for (; k < K; k++) {
    const float x = widen1(bf, wr[k]);
    t0 += x * a[k];
    if (T > 1) t1 += x * a[K + k];
    if (T > 2) t2 += x * a[2 * K + k];
    if (T > 3) t3 += x * a[3 * K + k];
  }
  c[n] = hsum(c0) + t0;
  if (T > 1) c[ldc + n] = hsum(c1) + t1;
  if (T > 2) c[2 * ldc + n] = hsum(c2) + t2;
  if (T > 3) c[3 * ldc + n] = hsum(c3) + t3;
}

#define HALF_EXPORT(name, bf)                                                                                          \
  __attribute__((export_name(#name))) void name(const float* a, int32_t M, int32_t K, const uint16_t* w, int32_t n0,   \
                                                int32_t n1, float* c, int32_t ldc) {                                   \
    for (int nb = n0; nb < n1; nb += 16) {                                                                             \
      const int ne = nb + 16 < n1 ? nb + 16 : n1;                                                                      \
      for (int m = 0; m < M; m += 4) {                                                                                 \
        const int t = M - m < 4 ? M - m : 4;                                                                           \
        const float* am = a + (int64_t)m * K;                                                                          \
        float* cm = c + (int64_t)m * ldc;                                                                              \
        for (int n = nb; n < ne; n++) {                                                                                \
          const uint16_t* wr = w + (int64_t)n * K;                                                                     \
          if (t == 4) dot16bit(bf, 4, am, K, wr, cm, ldc, n);                                                          \
          else if (t == 3) dot16bit(bf, 3, am, K, wr, cm, ldc, n);                                                     \
          else if (t == 2) dot16bit(bf, 2, am, K, wr, cm, ldc, n);                                                     \
          else dot16bit(bf, 1, am, K, wr, cm, ldc, n);                                                                 \
        }                                                                                                              \
      }                                                                                                                \
    }                                                                                                                  \
  }

HALF_EXPORT(dot_f16, 0)
HALF_EXPORT(dot_bf16, 1)
