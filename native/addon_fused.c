/*
 * N-API bindings of the fused kernels (fused.h). Each takes its arrays first (Float32Array, or
 * Int32Array for targets; views into the wasm heap), then its sizes; every array is checked to
 * hold what the sizes say before a kernel touches it.
 *   rmsNorm(x, w, y, rstd, N, D, eps)            rmsNormGrad(x, w, rstd, dy, dx, dw, N, D)
 *   swiglu(g, u, y, n)                           swigluGrad(g, u, dy, dg, du, n)
 *   crossEntropy(logits, targets, mask, lse, loss, N, V)
 *   crossEntropyGrad(logits, targets, mask, lse, dlogits, N, V, scale)
 *   attention(q, k, v, cos, sin, o, lse, B, T, H, Hkv, Dh, ropeStyle)
 *   attentionGrad(q, k, v, cos, sin, o, lse, dout, dq, dk, dv, B, T, H, Hkv, Dh, ropeStyle)
 *   adam(params, grads, m, v, n, b1, b2, eps, stepSize, sqrtC2, l2, keep)
 *   add(a, b, y, n)
 */
#include <stdio.h>
#include <node_api.h>
#include "fused.h"

typedef struct {
  napi_env env;
  const char *fn;
  size_t argc;
  napi_value argv[20];
  int failed;
} Call;

static void fail(Call *c, const char *what, int i) {
  if (c->failed) return;
  char msg[160];
  snprintf(msg, sizeof msg, "%s: argument %d %s", c->fn, i, what);
  napi_throw_range_error(c->env, NULL, msg);
  c->failed = 1;
}

static int begin(Call *c, napi_env env, napi_callback_info info, const char *fn, size_t want) {
  c->env = env;
  c->fn = fn;
  c->failed = 0;
  c->argc = 20;
  if (napi_get_cb_info(env, info, &c->argc, c->argv, NULL, NULL) != napi_ok || c->argc != want) {
    char msg[96];
    snprintf(msg, sizeof msg, "%s: expected %zu arguments", fn, want);
    napi_throw_type_error(env, NULL, msg);
    return 0;
  }
  return 1;
}

static long num(Call *c, int i) {
  int64_t v = 0;
  if (napi_get_value_int64(c->env, c->argv[i], &v) != napi_ok || v < 0) fail(c, "must be a non-negative integer", i);
  return (long)v;
}

static double real(Call *c, int i) {
  double v = 0;
  if (napi_get_value_double(c->env, c->argv[i], &v) != napi_ok) fail(c, "must be a number", i);
  return v;
}

/* The typed array at argument i, which must be of `type` and hold at least `need` elements. */
static void *arr(Call *c, int i, napi_typedarray_type type, size_t need) {
  napi_typedarray_type t;
  size_t len, off;
  void *data = NULL;
  napi_value buf;
  if (c->failed) return NULL;
  if (napi_get_typedarray_info(c->env, c->argv[i], &t, &len, &data, &buf, &off) != napi_ok || t != type) {
    fail(c, type == napi_int32_array ? "must be an Int32Array" : "must be a Float32Array", i);
    return NULL;
  }
  if (len < need) { fail(c, "is shorter than its shape", i); return NULL; }
  return data;
}
#define F32(i, n) ((float *)arr(&c, i, napi_float32_array, (size_t)(n)))
#define I32(i, n) ((int32_t *)arr(&c, i, napi_int32_array, (size_t)(n)))

static napi_value oom(Call *c) {
  napi_throw_error(c->env, NULL, "deepscale native: out of memory for a kernel's scratch");
  return NULL;
}

static napi_value RmsNorm(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(&c, env, info, "rmsNorm", 7)) return NULL;
  long N = num(&c, 4), D = num(&c, 5);
  float eps = (float)real(&c, 6);
  float *x = F32(0, N * D), *w = F32(1, D), *y = F32(2, N * D), *rstd = F32(3, N);
  if (c.failed) return NULL;
  ds_rmsnorm(x, w, y, rstd, (int)N, (int)D, eps);
  return NULL;
}

static napi_value RmsNormGrad(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(&c, env, info, "rmsNormGrad", 8)) return NULL;
  long N = num(&c, 6), D = num(&c, 7);
  float *x = F32(0, N * D), *w = F32(1, D), *rstd = F32(2, N), *dy = F32(3, N * D), *dx = F32(4, N * D), *dw = F32(5, D);
  if (c.failed) return NULL;
  return ds_rmsnorm_grad(x, w, rstd, dy, dx, dw, (int)N, (int)D) ? oom(&c) : NULL;
}

static napi_value Swiglu(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(&c, env, info, "swiglu", 4)) return NULL;
  long n = num(&c, 3);
  float *g = F32(0, n), *u = F32(1, n), *y = F32(2, n);
  if (c.failed) return NULL;
  ds_swiglu(g, u, y, n);
  return NULL;
}

static napi_value SwigluGrad(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(&c, env, info, "swigluGrad", 6)) return NULL;
  long n = num(&c, 5);
  float *g = F32(0, n), *u = F32(1, n), *dy = F32(2, n), *dg = F32(3, n), *du = F32(4, n);
  if (c.failed) return NULL;
  ds_swiglu_grad(g, u, dy, dg, du, n);
  return NULL;
}

static napi_value CrossEntropy(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(&c, env, info, "crossEntropy", 7)) return NULL;
  long N = num(&c, 5), V = num(&c, 6);
  float *logits = F32(0, N * V), *mask = F32(2, N), *lse = F32(3, N), *loss = F32(4, N);
  int32_t *targets = I32(1, N);
  if (c.failed) return NULL;
  if (V < 1) { fail(&c, "(V) must be positive", 6); return NULL; }
  return ds_xent(logits, targets, mask, lse, loss, (int)N, (int)V) ? oom(&c) : NULL;
}

static napi_value CrossEntropyGrad(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(&c, env, info, "crossEntropyGrad", 8)) return NULL;
  long N = num(&c, 5), V = num(&c, 6);
  float scale = (float)real(&c, 7);
  float *logits = F32(0, N * V), *mask = F32(2, N), *lse = F32(3, N), *dl = F32(4, N * V);
  int32_t *targets = I32(1, N);
  if (c.failed) return NULL;
  ds_xent_grad(logits, targets, mask, lse, dl, (int)N, (int)V, scale);
  return NULL;
}

/* B, T, H, Hkv, Dh, ropeStyle from argument `at` on, checked against each other. */
static int attn_shape(Call *c, int at, long s[6]) {
  for (int i = 0; i < 6; i++) s[i] = num(c, at + i);
  if (c->failed) return 0;
  if (s[3] < 1 || s[2] % s[3] != 0) { fail(c, "(Hkv) must divide H", at + 3); return 0; }
  if (s[5] > 2 || (s[5] != 0 && s[4] % 2 != 0)) { fail(c, "(ropeStyle) must be 0, 1 or 2, with an even Dh for 1 and 2", at + 5); return 0; }
  return 1;
}

/* Elements of each rope table, [T, Dh] (none without rope). */
static long rope_tables(const long s[6]) { return s[5] == 0 ? 0 : s[1] * s[4]; }

static napi_value Attention(napi_env env, napi_callback_info info) {
  Call c;
  long s[6];
  if (!begin(&c, env, info, "attention", 13) || !attn_shape(&c, 7, s)) return NULL;
  long B = s[0], T = s[1], H = s[2], Hkv = s[3], Dh = s[4], rope = rope_tables(s);
  float *q = F32(0, B * T * H * Dh), *k = F32(1, B * T * Hkv * Dh), *v = F32(2, B * T * Hkv * Dh);
  float *cos = F32(3, rope), *sin = F32(4, rope), *o = F32(5, B * T * H * Dh), *lse = F32(6, B * H * T);
  if (c.failed) return NULL;
  return ds_attention(q, k, v, cos, sin, o, lse, (int)B, (int)T, (int)H, (int)Hkv, (int)Dh, (int)s[5]) ? oom(&c) : NULL;
}

static napi_value AttentionGrad(napi_env env, napi_callback_info info) {
  Call c;
  long s[6];
  if (!begin(&c, env, info, "attentionGrad", 17) || !attn_shape(&c, 11, s)) return NULL;
  long B = s[0], T = s[1], H = s[2], Hkv = s[3], Dh = s[4], rope = rope_tables(s);
  long nq = B * T * H * Dh, nk = B * T * Hkv * Dh;
  float *q = F32(0, nq), *k = F32(1, nk), *v = F32(2, nk), *cos = F32(3, rope), *sin = F32(4, rope);
  float *o = F32(5, nq), *lse = F32(6, B * H * T), *dout = F32(7, nq), *dq = F32(8, nq), *dk = F32(9, nk), *dv = F32(10, nk);
  if (c.failed) return NULL;
  return ds_attention_grad(q, k, v, cos, sin, o, lse, dout, dq, dk, dv, (int)B, (int)T, (int)H, (int)Hkv, (int)Dh, (int)s[5]) ? oom(&c) : NULL;
}

static napi_value AdamStep(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(&c, env, info, "adam", 12)) return NULL;
  long n = num(&c, 4);
  double h[7];
  for (int i = 0; i < 7; i++) h[i] = real(&c, 5 + i);
  float *p = F32(0, n), *g = F32(1, n), *m = F32(2, n), *v = F32(3, n);
  if (c.failed) return NULL;
  ds_adam(p, g, m, v, n, h[0], h[1], (float)h[2], (float)h[3], (float)h[4], (float)h[5], (float)h[6]);
  return NULL;
}

static napi_value Add(napi_env env, napi_callback_info info) {
  Call c;
  if (!begin(&c, env, info, "add", 4)) return NULL;
  long n = num(&c, 3);
  float *x = F32(0, n), *y = F32(1, n), *out = F32(2, n);
  if (c.failed) return NULL;
  ds_add(x, y, out, n);
  return NULL;
}

void register_fused(napi_env env, napi_value exports) {
  napi_property_descriptor props[] = {
    {"rmsNorm", NULL, RmsNorm, NULL, NULL, NULL, napi_default, NULL},
    {"rmsNormGrad", NULL, RmsNormGrad, NULL, NULL, NULL, napi_default, NULL},
    {"swiglu", NULL, Swiglu, NULL, NULL, NULL, napi_default, NULL},
    {"swigluGrad", NULL, SwigluGrad, NULL, NULL, NULL, napi_default, NULL},
    {"crossEntropy", NULL, CrossEntropy, NULL, NULL, NULL, napi_default, NULL},
    {"crossEntropyGrad", NULL, CrossEntropyGrad, NULL, NULL, NULL, napi_default, NULL},
    {"attention", NULL, Attention, NULL, NULL, NULL, napi_default, NULL},
    {"attentionGrad", NULL, AttentionGrad, NULL, NULL, NULL, napi_default, NULL},
    {"adam", NULL, AdamStep, NULL, NULL, NULL, napi_default, NULL},
    {"add", NULL, Add, NULL, NULL, NULL, napi_default, NULL},
  };
  napi_define_properties(env, exports, sizeof props / sizeof props[0], props);
}
