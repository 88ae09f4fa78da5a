// Shared pieces of the quantized-weight products (qdot.c, kdot.c).
//
// Weights stay as ggml stores them: N rows of K elements, each row its blocks back to back
// (ggml-common.h layouts). Activations A [M, K] are quantized on the fly (quantize_q8 in qdot.c)
// to 8 bits per 32-element block, kept as three arrays:
//   qs [M, K] int8     d [M, K/32] float (scale: a ≈ d·q)     s [M, K/32] int32 (Σ q of the block)
// A product C[m, n] = Σ_k A[m, k] · W[n, k] then sums, per 32-element block, an integer dot of
// the weight's codes with qs, scaled in float by the weight block's scale and d[m, b]; blocks
// with an offset (a min) add their offset times s[m, b]·d[m, b]. (llama.cpp's vec_dot_*_q8 do
// the same; its q8 activations keep d in f16 and, for k-quants, one scale per 256.)
//
// Rows are processed in tiles of up to 4 activation rows: one weight block is decoded once and
// dotted with each of the tile's rows. C is written at c[m * ldc + n] for n0 ≤ n < n1.
//
// No stack arrays (instances on other threads share this memory, stack region included): tiles
// keep their accumulators in named locals, and the tile width is a compile-time constant in each
// instantiation (TILE_DISPATCH).
#pragma once
#include <stdint.h>
#include <wasm_simd128.h>

#define QK 32

static inline float f16_to_f32(uint16_t h) {
  // (h & 0x7fff) << 13 is the float with the same bits shifted into place, but an exponent
  // 112 too low; multiplying by 2^112 fixes it, subnormals included. Inf/NaN are not weights.
  union { uint32_t u; float f; } v = {(uint32_t)(h & 0x7fff) << 13};
  union { uint32_t u; float f; } s;
  s.f = v.f * 0x1p112f;
  s.u |= (uint32_t)(h & 0x8000) << 16;
  return s.f;
}

static inline uint16_t rd16(const uint8_t* p) { return (uint16_t)(p[0] | (p[1] << 8)); }

// Σ over 16 lanes of w (int8 codes) · a (int16), as 4 int32 partial sums.
static inline v128_t dot16(v128_t w, const int16_t* a) {
  return wasm_i32x4_add(wasm_i32x4_dot_i16x8(wasm_i16x8_extend_low_i8x16(w), wasm_v128_load(a)),
                        wasm_i32x4_dot_i16x8(wasm_i16x8_extend_high_i8x16(w), wasm_v128_load(a + 8)));
}

// Σ over 32 lanes of w0|w1 · a, as 4 int32 partial sums.
static inline v128_t dot32(v128_t w0, v128_t w1, const int16_t* a) {
  return wasm_i32x4_add(dot16(w0, a), dot16(w1, a + 16));
}

static inline float hsum(v128_t v) {
  return wasm_f32x4_extract_lane(v, 0) + wasm_f32x4_extract_lane(v, 1) + wasm_f32x4_extract_lane(v, 2) + wasm_f32x4_extract_lane(v, 3);
}

// The activations of one tile: row r of the tile is row m0 + r.
typedef struct {
  const int16_t* qs;
  const float* d;
  const int32_t* s;
  int32_t K;
} act_t;

#define ACT_QS(A, r) ((A).qs + (int64_t)(r) * (A).K)
#define ACT_D(A, r, b) ((A).d[(int64_t)(r) * ((A).K / QK) + (b)])
#define ACT_S(A, r, b) ((A).s[(int64_t)(r) * ((A).K / QK) + (b)])

// Runs ROWFN(T, row, act, &out0..&out3) for every weight row n0..n1 and tiles of T = 4, 3, 2, 1
// activation rows; ROWFN writes the T results. Weights are walked in chunks of 16 rows so a
// chunk stays in L1 while every tile of A passes over it.
#define TILE_DISPATCH(ROWFN, w, rowBytes, qs_, d_, s_, M, K, n0, n1, c, ldc)                       \
  for (int nb = (n0); nb < (n1); nb += 16) {                                                      \
    const int ne = nb + 16 < (n1) ? nb + 16 : (n1);                                              \
    int m = 0;                                                                                    \
    for (; m < (M); m += 4) {                                                                     \
      const int t = (M) - m < 4 ? (M) - m : 4;                                                    \
      const act_t A = {(qs_) + (int64_t)m * (K), (d_) + (int64_t)m * ((K) / QK), (s_) + (int64_t)m * ((K) / QK), (K)}; \
      float* cr = (c) + (int64_t)m * (ldc);                                                       \
      for (int n = nb; n < ne; n++) {                                                             \
        const uint8_t* row = (w) + (int64_t)n * (rowBytes);                                       \
        float o0 = 0, o1 = 0, o2 = 0, o3 = 0;                                                     \
        if (t == 4) ROWFN(4, row, A, &o0, &o1, &o2, &o3);                                             \
        else if (t == 3) ROWFN(3, row, A, &o0, &o1, &o2, &o3);                                        \
        else if (t == 2) ROWFN(2, row, A, &o0, &o1, &o2, &o3);                                        \
        else ROWFN(1, row, A, &o0, &o1, &o2, &o3);                                                    \
        cr[n] = o0;                                                                               \
        if (t > 1) cr[(ldc) + n] = o1;                                                            \
        if (t > 2) cr[2 * (ldc) + n] = o2;                                                        \
        if (t > 3) cr[3 * (ldc) + n] = o3;                                                        \
      }                                                                                           \
    }                                                                                             \
  }

#define INLINE static inline __attribute__((always_inline))

// acc_r += float(isum) · scale, for tile row r < T (T a constant, so dead rows vanish).
#define ACC4(T, isum_of, scale_of)                                                                 \
  do {                                                                                            \
    c0 = wasm_f32x4_add(c0, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum_of(0)), wasm_f32x4_splat(scale_of(0)))); \
    if (T > 1) c1 = wasm_f32x4_add(c1, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum_of(1)), wasm_f32x4_splat(scale_of(1)))); \
    if (T > 2) c2 = wasm_f32x4_add(c2, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum_of(2)), wasm_f32x4_splat(scale_of(2)))); \
    if (T > 3) c3 = wasm_f32x4_add(c3, wasm_f32x4_mul(wasm_f32x4_convert_i32x4(isum_of(3)), wasm_f32x4_splat(scale_of(3)))); \
  } while (0)

#define ACC_INIT v128_t c0 = wasm_f32x4_splat(0.0f), c1 = c0, c2 = c0, c3 = c0
#define ACC_OUT(T, extra0, extra1, extra2, extra3) \
  do {                                           \
    *o0 = hsum(c0) + (extra0);                   \
    if (T > 1) *o1 = hsum(c1) + (extra1);        \
    if (T > 2) *o2 = hsum(c2) + (extra2);        \
    if (T > 3) *o3 = hsum(c3) + (extra3);        \
  } while (0)

#define ROW_ARGS const int T, const uint8_t* row, act_t A, float* o0, float* o1, float* o2, float* o3
