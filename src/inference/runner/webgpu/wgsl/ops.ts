/**
 * The row-wise kernels of a layer: RMSNorm, rope fused with the KV-cache write, SwiGLU. The
 * model's sizes are constants of the shader text (one set of shaders per runner).
 *
 * Shapes: x, h [N, D]; qkv [N, (H + 2·Hkv)·Dh] (q heads, k heads, v heads); tmp [N, 2F] (gate,
 * up); act [N, F]; K/V pools of a layer [numBlocks, Hkv, blockSize, Dh]; rope [2, maxLen, Dh/2]
 * (cos, then sin).
 */
import { STEP_WGSL } from './common.ts';

export interface OpSizes {
  readonly D: number;
  readonly F: number;
  readonly H: number;
  readonly Hkv: number;
  readonly Dh: number;
  readonly blockSize: number;
  readonly maxLen: number;
  readonly eps: number;
  readonly adjacent: boolean;
}

const f32Lit = (v: number) => {
  const s = Math.fround(v).toExponential(9);
  return `${s}f`;
};

/**
 * Y[r] = X[src(r)] · rsqrt(mean(X[src(r)]²) + eps) · w, one workgroup per row. `gather`: src(r)
 * is sampled row r's batch row (the final norm runs on the sampled rows only), else r; rows are
 * the step's n (gather 0) or s (gather 1).
 */
export function rmsNormShader(z: OpSizes): string {
  return /* wgsl */ `
${STEP_WGSL}
struct Params { gather: u32, p0: u32, p1: u32, p2: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<uniform> S: Step;
@group(0) @binding(2) var<storage, read> Wn: array<f32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
@group(0) @binding(5) var<storage, read> Meta: array<i32>;
const D: u32 = ${z.D}u;
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let r = wid.x;
  var M = S.n;
  if (P.gather == 1u) { M = S.s; }
  if (r >= M) { return; }
  var src = r;
  if (P.gather == 1u) { src = u32(Meta[S.sampleOff + r]); }
  var ss = 0.0;
  for (var i = tid; i < D; i += 64u) { let v = X[src * D + i]; ss += v * v; }
  red[tid] = ss;
  workgroupBarrier();
  for (var hw = 32u; hw > 0u; hw >>= 1u) {
    if (tid < hw) { red[tid] += red[tid + hw]; }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(red[0] / f32(D) + ${f32Lit(z.eps)});
  for (var i = tid; i < D; i += 64u) { Y[r * D + i] = X[src * D + i] * inv * Wn[i]; }
}`;
}

/**
 * Rotary embedding of token t's q heads (in place in qkv) and k heads, and the write of its
 * rotated k and its v to the layer's pools at its slot (none for a padding row, slot −1).
 * One workgroup per token. Pairs: 'half' (j, j + Dh/2), 'adjacent' (2j, 2j + 1).
 */
export function ropeKvShader(z: OpSizes): string {
  const half = z.Dh / 2;
  const qkvW = (z.H + 2 * z.Hkv) * z.Dh;
  return /* wgsl */ `
${STEP_WGSL}
@group(0) @binding(0) var<uniform> S: Step;
@group(0) @binding(1) var<storage, read_write> QKV: array<f32>;
@group(0) @binding(2) var<storage, read_write> Kc: array<f32>;
@group(0) @binding(3) var<storage, read_write> Vc: array<f32>;
@group(0) @binding(4) var<storage, read> Meta: array<i32>;
@group(0) @binding(5) var<storage, read> Rope: array<f32>;
const H: u32 = ${z.H}u;
const HKV: u32 = ${z.Hkv}u;
const DH: u32 = ${z.Dh}u;
const HALF: u32 = ${half}u;
const BS: u32 = ${z.blockSize}u;
const QKVW: u32 = ${qkvW}u;
const SIN: u32 = ${z.maxLen * half}u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.x;
  if (t >= S.n) { return; }
  let pos = u32(Meta[S.posOff + t]);
  let slot = Meta[S.slotOff + t];
  let row = t * QKVW;
  var cb = 0u;
  if (slot >= 0) { cb = ((u32(slot) / BS) * HKV * BS + u32(slot) % BS) * DH; }
  for (var idx = tid; idx < (H + HKV) * HALF; idx += 64u) {
    let hh = idx / HALF;
    let j = idx % HALF;
    let c = Rope[pos * HALF + j];
    let s = Rope[SIN + pos * HALF + j];
    let ia = ${z.adjacent ? '2u * j' : 'j'};
    let ib = ia + ${z.adjacent ? '1u' : 'HALF'};
    let base = row + hh * DH;
    let x0 = QKV[base + ia];
    let x1 = QKV[base + ib];
    let y0 = x0 * c - x1 * s;
    let y1 = x1 * c + x0 * s;
    if (hh < H) {
      QKV[base + ia] = y0;
      QKV[base + ib] = y1;
    } else if (slot >= 0) {
      let kb = cb + (hh - H) * BS * DH;
      Kc[kb + ia] = y0;
      Kc[kb + ib] = y1;
    }
  }
  if (slot >= 0) {
    for (var idx = tid; idx < HKV * DH; idx += 64u) {
      Vc[cb + (idx / DH) * BS * DH + idx % DH] = QKV[row + (H + HKV) * DH + idx];
    }
  }
}`;
}

/** act[m, f] = silu(tmp[m, f]) · tmp[m, F + f], silu(g) = g / (1 + e^−g). One thread per element. */
export function swigluShader(z: OpSizes): string {
  return /* wgsl */ `
${STEP_WGSL}
@group(0) @binding(0) var<uniform> S: Step;
@group(0) @binding(1) var<storage, read> T: array<f32>;
@group(0) @binding(2) var<storage, read_write> A: array<f32>;
const F: u32 = ${z.F}u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + tid;
  if (i >= S.n * F) { return; }
  let m = i / F;
  let f = i % F;
  let g = T[m * 2u * F + f];
  A[i] = g / (1.0 + exp(-g)) * T[m * 2u * F + F + f];
}`;
}

/** Qwen2: qkv[m, :] += b, b [(H + 2·Hkv)·Dh] in qkv's column order. One thread per element. */
export function biasAddShader(z: OpSizes): string {
  return /* wgsl */ `
${STEP_WGSL}
@group(0) @binding(0) var<uniform> S: Step;
@group(0) @binding(1) var<storage, read_write> QKV: array<f32>;
@group(0) @binding(2) var<storage, read> Bias: array<f32>;
const W: u32 = ${(z.H + 2 * z.Hkv) * z.Dh}u;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let i = (wid.x + wid.y * nwg.x) * 64u + tid;
  if (i >= S.n * W) { return; }
  QKV[i] = QKV[i] + Bias[i % W];
}`;
}

/**
 * Qwen3: RMSNorm over each q head and each k head of qkv, in place, before rope (weights [Dh]
 * each). One workgroup per (token, head), dispatch (N, H + Hkv).
 */
export function headNormShader(z: OpSizes): string {
  return /* wgsl */ `
${STEP_WGSL}
@group(0) @binding(0) var<uniform> S: Step;
@group(0) @binding(1) var<storage, read_write> QKV: array<f32>;
@group(0) @binding(2) var<storage, read> Wq: array<f32>;
@group(0) @binding(3) var<storage, read> Wk: array<f32>;
const H: u32 = ${z.H}u;
const DH: u32 = ${z.Dh}u;
const QKVW: u32 = ${(z.H + 2 * z.Hkv) * z.Dh}u;
var<workgroup> red: array<f32, 64>;

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.x;
  let hh = wid.y;
  if (t >= S.n) { return; }
  let base = t * QKVW + hh * DH;
  var ss = 0.0;
  for (var d = tid; d < DH; d += 64u) { let v = QKV[base + d]; ss += v * v; }
  red[tid] = ss;
  workgroupBarrier();
  for (var hw = 32u; hw > 0u; hw >>= 1u) {
    if (tid < hw) { red[tid] += red[tid + hw]; }
    workgroupBarrier();
  }
  let inv = 1.0 / sqrt(red[0] / f32(DH) + ${f32Lit(z.eps)});
  for (var d = tid; d < DH; d += 64u) {
    var w = Wk[d];
    if (hh < H) { w = Wq[d]; }
    QKV[base + d] = QKV[base + d] * inv * w;
  }
}`;
}
