// Paged attention over a ragged batch, in WebAssembly SIMD (f32x4).
//
// Same contract as paged_attention.ts (the reference it is tested against): query rows are
// packed, sequence s owns rows queryStart .. queryStart+queryLen-1; its K/V are the contextLen
// first positions of its block table; query i sits at position contextLen - queryLen + i and sees
// positions 0 ..= that. GQA: head h reads kv head h / (H / Hkv). Online softmax one block of keys
// at a time, in float32.
//
//   k, v:   [numBlocks, Hkv, B, Dh]      (the layer's pools, in this module's memory; head-major blocks)
//   q, out: [numTokens, H, Dh]
//   meta:   [numSeqs, 4] int32           queryStart, queryLen, contextLen, offset of its table in `tables`
//   tables: int32 block ids, every sequence's table one after the other
//   scratch: H·Dh + 2·H + B floats
//
// Built by scripts/build_wasm.sh (clang --target=wasm32 -msimd128); the .wasm beside this file is
// its output and is what the runtime loads, so a machine without clang runs it as it is.
#include <stdint.h>
#include <wasm_simd128.h>

#include "../../wasm/kernels/vec_math.h"

#define NEG_INF (-__builtin_inff())

static inline float hsum(v128_t a) {
  return wasm_f32x4_extract_lane(a, 0) + wasm_f32x4_extract_lane(a, 1) + wasm_f32x4_extract_lane(a, 2) + wasm_f32x4_extract_lane(a, 3);
}

// One head of one query row against positions 0..seen-1: f32x4 over the first Dh - Dh % 4 lanes,
// then one lane at a time. Inlined with a constant Dh for the common sizes, so the loops unroll,
// the tails vanish and the accumulator stays in registers.
static inline void attend_head(const float* qh, float* oh, const float* k, const float* v, const int32_t* table,
                               int seen, int B, int Hkv, int kvh, int Dh, float scale, float* acc, float* sc) {
  const int nb = (seen + B - 1) / B;
  const int dv = Dh - Dh % 4;
  float mx = NEG_INF, l = 0.0f;
  for (int d = 0; d < Dh; d++) acc[d] = 0.0f;
  for (int b = 0; b < nb; b++) {
    const int cnt = b == nb - 1 ? seen - b * B : B;
    const int base = (table[b] * Hkv + kvh) * B * Dh;
    float bm = NEG_INF;
    for (int t = 0; t < cnt; t++) {
      const float* kt = k + base + t * Dh;
      v128_t s4 = wasm_f32x4_splat(0.0f);
      for (int d = 0; d < dv; d += 4) s4 = wasm_f32x4_add(s4, wasm_f32x4_mul(wasm_v128_load(qh + d), wasm_v128_load(kt + d)));
      float s = hsum(s4);
      for (int d = dv; d < Dh; d++) s += qh[d] * kt[d];
      const float x = s * scale;
      sc[t] = x;
      if (x > bm) bm = x;
    }
    // online softmax: rescale what was summed under the old max once per block
    if (bm > mx) {
      const float corr = mx == NEG_INF ? 0.0f : exp_nonpos(mx - bm);
      l *= corr;
      const v128_t c4 = wasm_f32x4_splat(corr);
      for (int d = 0; d < dv; d += 4) wasm_v128_store(acc + d, wasm_f32x4_mul(wasm_v128_load(acc + d), c4));
      for (int d = dv; d < Dh; d++) acc[d] *= corr;
      mx = bm;
    }
    for (int t = 0; t < cnt; t++) {
      const float p = exp_nonpos(sc[t] - mx);
      l += p;
      const float* vt = v + base + t * Dh;
      const v128_t p4 = wasm_f32x4_splat(p);
      for (int d = 0; d < dv; d += 4) wasm_v128_store(acc + d, wasm_f32x4_add(wasm_v128_load(acc + d), wasm_f32x4_mul(p4, wasm_v128_load(vt + d))));
      for (int d = dv; d < Dh; d++) acc[d] += p * vt[d];
    }
  }
  const float inv = 1.0f / l;
  for (int d = 0; d < Dh; d++) oh[d] = acc[d] * inv;
}

// The four lane sums of a, b, c, d as one vector [Σa, Σb, Σc, Σd].
static inline v128_t hsum4(v128_t a, v128_t b, v128_t c, v128_t d) {
  const v128_t ab = wasm_f32x4_add(wasm_i32x4_shuffle(a, b, 0, 1, 4, 5), wasm_i32x4_shuffle(a, b, 2, 3, 6, 7));
  const v128_t cd = wasm_f32x4_add(wasm_i32x4_shuffle(c, d, 0, 1, 4, 5), wasm_i32x4_shuffle(c, d, 2, 3, 6, 7));
  return wasm_f32x4_add(wasm_i32x4_shuffle(ab, cd, 0, 2, 4, 6), wasm_i32x4_shuffle(ab, cd, 1, 3, 5, 7));
}

// attend_row_DH for the common head sizes, one copy per constant DH (attend_fixed.inc).
#define DH 32
#include "attend_fixed.inc"
#undef DH
#define DH 64
#include "attend_fixed.inc"
#undef DH
#define DH 128
#include "attend_fixed.inc"
#undef DH


__attribute__((export_name("paged_attention"))) void paged_attention(
    const float* q, float* out, const float* k, const float* v, const int32_t* meta, int32_t num_seqs,
    const int32_t* tables, int32_t H, int32_t Hkv, int32_t Dh, int32_t B, float scale, float* scratch) {
  const int group = H / Hkv;
  for (int s = 0; s < num_seqs; s++) {
    const int32_t* m = meta + 4 * s;
    const int query_start = m[0], query_len = m[1], context_len = m[2];
    const int32_t* table = tables + m[3];
    for (int i = 0; i < query_len; i++) {
      const int seen = context_len - query_len + i + 1;
      const int row = (query_start + i) * H * Dh;
      if (Dh == 32) attend_row_32(q + row, out + row, k, v, table, seen, B, H, Hkv, scale, scratch);
      else if (Dh == 64) attend_row_64(q + row, out + row, k, v, table, seen, B, H, Hkv, scale, scratch);
      else if (Dh == 128) attend_row_128(q + row, out + row, k, v, table, seen, B, H, Hkv, scale, scratch);
      else {
        for (int h = 0; h < H; h++) {
          attend_head(q + row + h * Dh, out + row + h * Dh, k, v, table, seen, B, Hkv, h / group, Dh, scale, scratch, scratch + Dh);
        }
      }
    }
  }
}
