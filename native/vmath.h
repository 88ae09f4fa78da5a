/* Vectorizable math for the fused kernels: branch-free, so GCC vectorizes the loops that call it
 * under each ISA that DS_CLONES compiles them for (AVX-512, AVX2+FMA, baseline; picked at load). */
#ifndef DS_VMATH_H
#define DS_VMATH_H
#include <stdint.h>
#include <string.h>

#define DS_CLONES __attribute__((target_clones("avx512f", "avx2,fma", "default")))

/* e^x: Cephes' polynomial on r = x − n·ln2, scaled by 2^n (relative error < 1e-7); x clamped to [−87, 88]. */
static inline float ds_expf(float x) {
  x = x < -87.0f ? -87.0f : x;
  x = x > 88.0f ? 88.0f : x;
  float n = __builtin_floorf(x * 1.44269504088896341f + 0.5f);
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

/* Lane-wise partial sums (16 lanes) so a reduction vectorizes without reassociation flags. */
#define DS_LANES 16
static inline float ds_lanes_sum(const float *acc) {
  float s = 0.0f;
  for (int l = 0; l < DS_LANES; l++) s += acc[l];
  return s;
}
#endif
