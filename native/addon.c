/*
 * deepscale's native training kernels as an N-API addon (optional: scripts/build_native.mjs builds
 * it at install where a C compiler is present; without it training stays on the wasm kernels).
 *   isa() → "avx512" | "avx2+fma" | "c"
 *   setThreads(n) → the pool's size after (workers that could not start are left out)
 *   sgemm(a, b, c: Float32Array, batch, M, N, K, transA, transB, strideA, strideB, strideC, accumulate)
 *   and the fused kernels (addon_fused.c)
 * The arrays are views (e.g. into the tfjs-wasm heap): results are written into them in place.
 * The kernels run on native threads (pool.c) while the JS thread waits in the call.
 */
#include <node_api.h>
#include "pool.h"
#include "sgemm.h"

void register_fused(napi_env env, napi_value exports);

#define CHECK(call) if ((call) != napi_ok) { napi_throw_error(env, NULL, "deepscale native: N-API call failed: " #call); return NULL; }

static float *f32(napi_env env, napi_value v, size_t *len) {
  napi_typedarray_type type;
  void *data;
  napi_value buf;
  size_t off;
  if (napi_get_typedarray_info(env, v, &type, len, &data, &buf, &off) != napi_ok || type != napi_float32_array) return NULL;
  return data;
}

static napi_value Isa(napi_env env, napi_callback_info info) {
  napi_value out;
  const char *name = sgemm_init();
  CHECK(napi_create_string_utf8(env, name, NAPI_AUTO_LENGTH, &out));
  return out;
}

static napi_value Sgemm(napi_env env, napi_callback_info info) {
  size_t argc = 13;
  napi_value argv[13];
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 13) { napi_throw_type_error(env, NULL, "sgemm: expected 13 arguments"); return NULL; }
  size_t la, lb, lc;
  float *a = f32(env, argv[0], &la), *b = f32(env, argv[1], &lb), *c = f32(env, argv[2], &lc);
  if (!a || !b || !c) { napi_throw_type_error(env, NULL, "sgemm: a, b and c must be Float32Arrays"); return NULL; }
  int64_t v[10];
  for (int i = 0; i < 10; i++) CHECK(napi_get_value_int64(env, argv[3 + i], &v[i]));
  SgemmArgs g = {a, b, c, (int)v[0], (int)v[1], (int)v[2], (int)v[3], (int)v[4], (int)v[5], (size_t)v[6], (size_t)v[7], (size_t)v[8], (int)v[9]};
  /* Bounds: the last batch entry must lie inside each view. */
  size_t last = g.batch > 0 ? (size_t)(g.batch - 1) : 0;
  if (last * g.strideA + (size_t)g.M * g.K > la || last * g.strideB + (size_t)g.K * g.N > lb || last * g.strideC + (size_t)g.M * g.N > lc) {
    napi_throw_range_error(env, NULL, "sgemm: a batch entry lies outside its Float32Array");
    return NULL;
  }
  if (sgemm(&g) != 0) { napi_throw_error(env, NULL, "sgemm: out of memory for the packing buffer"); return NULL; }
  return NULL;
}

static napi_value SetThreads(napi_env env, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1], out;
  int32_t n;
  CHECK(napi_get_cb_info(env, info, &argc, argv, NULL, NULL));
  if (argc != 1 || napi_get_value_int32(env, argv[0], &n) != napi_ok) { napi_throw_type_error(env, NULL, "setThreads: expected a thread count"); return NULL; }
  pool_set_threads(n);
  CHECK(napi_create_int32(env, pool_threads(), &out));
  return out;
}

static napi_value Init(napi_env env, napi_value exports) {
  sgemm_init();
  napi_property_descriptor props[] = {
    {"isa", NULL, Isa, NULL, NULL, NULL, napi_default, NULL},
    {"setThreads", NULL, SetThreads, NULL, NULL, NULL, napi_default, NULL},
    {"sgemm", NULL, Sgemm, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
  register_fused(env, exports);
  return exports;
}

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
