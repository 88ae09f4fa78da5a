// Elementwise math shared by deepscale's wasm kernels (included by their .c files).
#ifndef DEEPSCALE_VEC_MATH_H
#define DEEPSCALE_VEC_MATH_H
#include <stdint.h>
#include <wasm_simd128.h>

// e^x for x <= 0 (e.g. attention scores minus their running max). Below EXP_FLOOR it returns 0: e^-40 < 4.3e-18
// is far below float32's resolution of a sum whose largest term is 1, and flushing it keeps p·V
// products and rescaled accumulators out of the subnormal range, where x86 arithmetic is ~100×
// slower (wasm has no flush-to-zero mode). Range reduction x = n·ln2 + r, |r| <= ln2/2, then a
// degree-6 Taylor polynomial of e^r (relative error < 2e-7) scaled by 2^n.
#define EXP_FLOOR (-40.0f)
static inline float exp_nonpos(float x) {
  if (x < EXP_FLOOR) return 0.0f;
  const float n = __builtin_rintf(x * 1.44269504088896341f);
  const float r = (x - n * 0.693145751953125f) - n * 1.428606765330187045e-06f;
  float p = 1.0f / 720.0f;
  p = p * r + 1.0f / 120.0f;
  p = p * r + 1.0f / 24.0f;
  p = p * r + 1.0f / 6.0f;
  p = p * r + 0.5f;
  p = p * r + 1.0f;
  p = p * r + 1.0f;
  union { uint32_t u; float f; } scale = { .u = (uint32_t)((int32_t)n + 127) << 23 };
  return p * scale.f;
}

// e^x on four lanes, x <= 0 (0 below EXP_FLOOR): exp_nonpos, vectorized.
static inline v128_t exp_nonpos4(v128_t x) {
  const v128_t n = wasm_f32x4_nearest(wasm_f32x4_mul(x, wasm_f32x4_splat(1.44269504088896341f)));
  const v128_t r = wasm_f32x4_sub(wasm_f32x4_sub(x, wasm_f32x4_mul(n, wasm_f32x4_splat(0.693145751953125f))), wasm_f32x4_mul(n, wasm_f32x4_splat(1.428606765330187045e-06f)));
  v128_t p = wasm_f32x4_splat(1.0f / 720.0f);
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 120.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 24.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f / 6.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(0.5f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  p = wasm_f32x4_add(wasm_f32x4_mul(p, r), wasm_f32x4_splat(1.0f));
  const v128_t ni = wasm_i32x4_trunc_sat_f32x4(wasm_f32x4_max(n, wasm_f32x4_splat(-127.0f)));
  const v128_t pow2n = wasm_i32x4_shl(wasm_i32x4_add(ni, wasm_i32x4_splat(127)), 23);
  return wasm_v128_and(wasm_f32x4_mul(p, pow2n), wasm_f32x4_ge(x, wasm_f32x4_splat(EXP_FLOOR)));
}

#endif
