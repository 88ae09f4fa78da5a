// Products with weights kept in their stored format, part 2: ggml's k-quants (256-element super
// blocks) against the 8-bit activations of qdot.c's quantize_q8. Conventions: qdot.h. Built by
// scripts/build_wasm.sh.
//
//   Q4_K (144 B): f16 d | f16 dmin | u8 scales[12] | u8 qs[128]
//     8 sub-blocks of 32, each with a 6-bit scale sc_j and min m_j packed in scales[12]
//     (k4_scale_min); x = d·sc_j·q − dmin·m_j, q 4 bits: in each 64-element chunk c, the low
//     nibbles of qs[32c .. 32c+31] are sub-block 2c, the high nibbles sub-block 2c+1.
//   Q5_K (176 B): f16 d | f16 dmin | u8 scales[12] | u8 qh[32] | u8 qs[128]
//     as Q4_K with a fifth bit: bit j of qh[l] is the high bit of element l of sub-block j.
//   Q6_K (210 B): u8 ql[128] | u8 qh[64] | i8 scales[16] | f16 d
//     16 sub-blocks of 16, x = d·scales[i]·(q − 32), q 6 bits; in each 128-element half h
//     (ql += 64h, qh += 32h), group g of 32 takes the low (g = 0, 1) or high (g = 2, 3) nibbles
//     of ql[32(g & 1) ..] and bits 2g, 2g+1 of qh[0 .. 31]; its halves use scales[8h + 2g], [+1].
#include "qdot.h"

#define QK_K 256

// The 6-bit scale and min of sub-block j (0..7) from the 12 packed bytes.
INLINE void k4_scale_min(int j, const uint8_t* q, int* sc, int* mn) {
  if (j < 4) {
    *sc = q[j] & 63;
    *mn = q[j + 4] & 63;
  } else {
    *sc = (q[j + 4] & 15) | ((q[j - 4] >> 6) << 4);
    *mn = (q[j + 4] >> 4) | ((q[j] >> 6) << 4);
  }
}

// One sub-block of 32 codes (w0_, w1_, in scope) at activation block b: the scaled dot, and the min term.
#define K_SUB(b, dsc, dmn)                                         \
  do {                                                               \
    const int bb = (b);                                              \
    const float ds = (dsc), dm = (dmn);                              \
    ACC4(T, K_ISUM, K_SCALE);                                        \
    m0 += dm * ACT_D(A, 0, bb) * (float)ACT_S(A, 0, bb);             \
    if (T > 1) m1 += dm * ACT_D(A, 1, bb) * (float)ACT_S(A, 1, bb);  \
    if (T > 2) m2 += dm * ACT_D(A, 2, bb) * (float)ACT_S(A, 2, bb);  \
    if (T > 3) m3 += dm * ACT_D(A, 3, bb) * (float)ACT_S(A, 3, bb);  \
  } while (0)
#define K_ISUM(r) dot32(w0_, w1_, ACT_QS(A, r) + QK * bb)
#define K_SCALE(r) (ds * ACT_D(A, r, bb))

INLINE void row_q4_k(ROW_ARGS) {
  ACC_INIT;
  float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
  const v128_t lo4 = wasm_i8x16_splat(15);
  for (int i = 0; i < A.K / QK_K; i++) {
    const uint8_t* blk = row + 144 * i;
    const float d = f16_to_f32(rd16(blk)), dmin = f16_to_f32(rd16(blk + 2));
    const uint8_t* qs = blk + 16;
    for (int ch = 0; ch < 4; ch++) {
      const v128_t qa = wasm_v128_load(qs + 32 * ch), qb = wasm_v128_load(qs + 32 * ch + 16);
      int sc, mn;
      k4_scale_min(2 * ch, blk + 4, &sc, &mn);
      {
        const v128_t w0_ = wasm_v128_and(qa, lo4), w1_ = wasm_v128_and(qb, lo4);
        K_SUB(8 * i + 2 * ch, d * sc, dmin * mn);
      }
      k4_scale_min(2 * ch + 1, blk + 4, &sc, &mn);
      {
        const v128_t w0_ = wasm_u8x16_shr(qa, 4), w1_ = wasm_u8x16_shr(qb, 4);
        K_SUB(8 * i + 2 * ch + 1, d * sc, dmin * mn);
      }
    }
  }
  ACC_OUT(T, -m0, -m1, -m2, -m3);
}

INLINE void row_q5_k(ROW_ARGS) {
  ACC_INIT;
  float m0 = 0, m1 = 0, m2 = 0, m3 = 0;
  const v128_t lo4 = wasm_i8x16_splat(15), bit4 = wasm_i8x16_splat(16);
  for (int i = 0; i < A.K / QK_K; i++) {
    const uint8_t* blk = row + 176 * i;
    const float d = f16_to_f32(rd16(blk)), dmin = f16_to_f32(rd16(blk + 2));
    const v128_t h0 = wasm_v128_load(blk + 16), h1 = wasm_v128_load(blk + 32);
    const uint8_t* qs = blk + 48;
    for (int ch = 0; ch < 4; ch++) {
      const v128_t qa = wasm_v128_load(qs + 32 * ch), qb = wasm_v128_load(qs + 32 * ch + 16);
      int sc, mn;
      const int j0 = 2 * ch, j1 = 2 * ch + 1;
      k4_scale_min(j0, blk + 4, &sc, &mn);
      {
        const v128_t w0_ = wasm_v128_or(wasm_v128_and(qa, lo4), wasm_v128_and(wasm_i8x16_shl(wasm_u8x16_shr(h0, j0), 4), bit4));
        const v128_t w1_ = wasm_v128_or(wasm_v128_and(qb, lo4), wasm_v128_and(wasm_i8x16_shl(wasm_u8x16_shr(h1, j0), 4), bit4));
        K_SUB(8 * i + j0, d * sc, dmin * mn);
      }
      k4_scale_min(j1, blk + 4, &sc, &mn);
      {
        const v128_t w0_ = wasm_v128_or(wasm_u8x16_shr(qa, 4), wasm_v128_and(wasm_i8x16_shl(wasm_u8x16_shr(h0, j1), 4), bit4));
        const v128_t w1_ = wasm_v128_or(wasm_u8x16_shr(qb, 4), wasm_v128_and(wasm_i8x16_shl(wasm_u8x16_shr(h1, j1), 4), bit4));
        K_SUB(8 * i + j1, d * sc, dmin * mn);
      }
    }
  }
  ACC_OUT(T, -m0, -m1, -m2, -m3);
}

// Group g's 32 six-bit codes, centred (−32 .. 31), from ql (32 bytes, nibble `high`) and qh bits 2g, 2g+1.
INLINE v128_t q6_codes(v128_t ql, v128_t qh, int high, int g) {
  const v128_t lo = high ? wasm_u8x16_shr(ql, 4) : wasm_v128_and(ql, wasm_i8x16_splat(15));
  const v128_t hi = wasm_v128_and(wasm_i8x16_shl(wasm_u8x16_shr(qh, 2 * g), 4), wasm_i8x16_splat(0x30));
  return wasm_i8x16_sub(wasm_v128_or(lo, hi), wasm_i8x16_splat(32));
}

INLINE void row_q6_k(ROW_ARGS) {
  ACC_INIT;
  for (int i = 0; i < A.K / QK_K; i++) {
    const uint8_t* blk = row + 210 * i;
    const float d = f16_to_f32(rd16(blk + 208));
    const int8_t* scales = (const int8_t*)(blk + 192);
    for (int h = 0; h < 2; h++) {
      const uint8_t* ql = blk + 64 * h;
      const v128_t qh0 = wasm_v128_load(blk + 128 + 32 * h), qh1 = wasm_v128_load(blk + 128 + 32 * h + 16);
      for (int g = 0; g < 4; g++) {
        const v128_t l0 = wasm_v128_load(ql + 32 * (g & 1)), l1 = wasm_v128_load(ql + 32 * (g & 1) + 16);
        const v128_t wa = q6_codes(l0, qh0, g >> 1, g), wb = q6_codes(l1, qh1, g >> 1, g);
        const v128_t sa = wasm_i32x4_splat(scales[8 * h + 2 * g]), sb = wasm_i32x4_splat(scales[8 * h + 2 * g + 1]);
        const int bb = 8 * i + 4 * h + g;
#define Q6_ISUM(r) wasm_i32x4_add(wasm_i32x4_mul(dot16(wa, ACT_QS(A, r) + QK * bb), sa), wasm_i32x4_mul(dot16(wb, ACT_QS(A, r) + QK * bb + 16), sb))
#define Q6_SCALE(r) (d * ACT_D(A, r, bb))
        ACC4(T, Q6_ISUM, Q6_SCALE);
#undef Q6_ISUM
#undef Q6_SCALE
      }
    }
  }
  ACC_OUT(T, 0, 0, 0, 0);
}

#define KDOT_EXPORT(name, ROWFN, blockBytes)                                                                        \
  __attribute__((export_name(#name))) void name(const int16_t* qs, const float* d, const int32_t* s, int32_t M, int32_t K, \
                                                const uint8_t* w, int32_t n0, int32_t n1, float* c, int32_t ldc) {    \
    const int64_t rowBytes = (int64_t)(K / QK_K) * (blockBytes);                                                    \
    TILE_DISPATCH(ROWFN, w, rowBytes, qs, d, s, M, K, n0, n1, c, ldc)                                               \
  }

KDOT_EXPORT(dot_q4_k, row_q4_k, 144)
KDOT_EXPORT(dot_q5_k, row_q5_k, 176)
KDOT_EXPORT(dot_q6_k, row_q6_k, 210)
