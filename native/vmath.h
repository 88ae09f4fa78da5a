/* Vectorizable math for the fused kernels: branch-free, so GCC vectorizes the loops that call it
 * under each ISA that DS_CLONES compiles them for (AVX-512, AVX2+FMA, baseline; picked at load).
 * The build passes -fno-trapping-math (no FP exception flags are read): without it GCC will not
 * if-convert the clamps for AVX2 and SSE. */
#ifndef DS_VMATH_H
#define DS_VMATH_H
#include <stdint.h>
#include <string.h>

#if defined(__x86_64__) && defined(__GNUC__)
#define DS_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))
#else
#define DS_CLONES /* one build for the target's baseline (NEON on aarch64) */
#endif

/* e^x: Cephes' polynomial on r = x − n·ln2, scaled by 2^n (relative error < 1e-7); x clamped to [−87, 88]. */
static inline float ds_expf(float x) {
  x = x > -87.0f ? x : -87.0f;
  x = x < 88.0f ? x : 88.0f;
  /* n = round(x·log2 e) by the 1.5·2²³ trick (no floorf call, so the baseline clone vectorizes too). */
  float t = x * 1.44269504088896341f;
  float n = (t + 12582912.0f) - 12582912.0f;
  float r = x - n * 0.693359375f + n * 2.12194440e-4f;
  float p = 1.9875691500e-4f;
  p = p * r + 1.3981999507e-3f;
  p = p * r + 8.3334519073e-3f;
  p = p * r + 4.1665795894e-2f;
  p = p * r + 1.6666665459e-1f;
  p = p * r + 5.0000001201e-1f;
  p = p * r * r + r + 1.0f;
  int32_t e = ((int32_t)n + 127) << 23;
  float s;
  memcpy(&s, &e, sizeof s);
  return p * s;
}

/* Reductions on GCC's generic 16-float vectors: each DS_CLONES clone lowers them to its own
 * registers (one zmm, two ymm, four xmm); a plain scalar reduction loop would stay a latency-bound
 * chain, since float addition and max may not be reordered. */
typedef float ds_v16 __attribute__((vector_size(64)));
typedef int32_t ds_v16i __attribute__((vector_size(64)));

static inline ds_v16 ds_load16(const float *p) {
  ds_v16 v;
  memcpy(&v, p, sizeof v);
  return v;
}

static inline float ds_hsum16(ds_v16 v) {
  float s = 0.0f;
  for (int l = 0; l < 16; l++) s += v[l];
  return s;
}

/* Σ x[0 .. n). */
static inline float ds_sum(const float *x, int n) {
  ds_v16 acc = {0};
  int j = 0;
  for (; j + 16 <= n; j += 16) acc += ds_load16(x + j);
  float s = ds_hsum16(acc);
  for (; j < n; j++) s += x[j];
  return s;
}

/* Σ a·b, and Σ a·b·c. */
static inline float ds_dot(const float *a, const float *b, int n) {
  ds_v16 acc = {0};
  int j = 0;
  for (; j + 16 <= n; j += 16) acc += ds_load16(a + j) * ds_load16(b + j);
  float s = ds_hsum16(acc);
  for (; j < n; j++) s += a[j] * b[j];
  return s;
}

static inline float ds_dot3(const float *a, const float *b, const float *c, int n) {
  ds_v16 acc = {0};
  int j = 0;
  for (; j + 16 <= n; j += 16) acc += ds_load16(a + j) * ds_load16(b + j) * ds_load16(c + j);
  float s = ds_hsum16(acc);
  for (; j < n; j++) s += a[j] * b[j] * c[j];
  return s;
}

/* max over x[0 .. n), n ≥ 1. */
static inline float ds_max(const float *x, int n) {
  float m = x[0];
  int j = 0;
  if (n >= 16) {
    ds_v16 acc = ds_load16(x);
    for (j = 16; j + 16 <= n; j += 16) {
      ds_v16 v = ds_load16(x + j);
      ds_v16i gt = v > acc;
      acc = (ds_v16)(((ds_v16i)v & gt) | ((ds_v16i)acc & ~gt));
    }
    m = acc[0];
    for (int l = 1; l < 16; l++) m = acc[l] > m ? acc[l] : m;
  }
  for (; j < n; j++) m = x[j] > m ? x[j] : m;
  return m;
}
#endif
