/**
 * The linear product on the GPU, one shader per stored weight type: weights stay in their GGUF
 * bytes and are dequantized in registers, 32 elements (one "chunk") at a time.
 *
 *   Y[m, outOff + n] (+)= Σ_k X[m, k] · W[n, k]      X [M, K] (row stride xStride), W [N, K] rows as stored
 *
 * One workgroup of 64 threads computes one output column n for TM = 8 rows: the threads stride
 * over the row's chunks (so each weight byte is read once per 8 rows: decode is a gemv), each
 * keeps 8 partial sums, and a tree in workgroup memory adds them. Dispatch
 * (min(N, 65535), ⌈N / 65535⌉, ⌈M / 8⌉). `mSel` picks M from the step: 0 tokens, 1 sampled rows,
 * 2 this LM-head chunk (X rows offset by headRow0).
 *
 * Chunk c of a row, by type (block layouts as ggml-common.h defines them):
 *   F32, F16, BF16   elements 32c … 32c+31 (the row's tail past K reads as 0)
 *   Q8_0       block c (34 B): f16 d | i8 q[32];                       w = d·q
 *   Q4_0       block c (18 B): f16 d | u8 qs[16] (low nibbles: 0..15, high: 16..31);  w = d·(q − 8)
 *   Q4_K       super-block c/8 (144 B), sub-block j = c%8:  w = d·sc_j·q − dmin·m_j
 *   Q5_K       as Q4_K (176 B: qh[32] before qs), bit j of qh[l] the fifth bit of element l
 *   Q6_K       super-block c/8 (210 B), group j = c%8 of 32:  w = d·sc·(q − 32)
 */
import { BYTES_WGSL, STEP_WGSL } from './common.ts';

export type GpuWeightType = 'F32' | 'F16' | 'BF16' | 'Q8_0' | 'Q4_0' | 'Q4_K' | 'Q5_K' | 'Q6_K';

/** ggml type id → the kernel that reads it (others have none here). */
export const GPU_TYPES: Readonly<Partial<Record<number, GpuWeightType>>> = { 0: 'F32', 1: 'F16', 30: 'BF16', 8: 'Q8_0', 2: 'Q4_0', 12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K' };

/** Bytes of a row of K elements in `type`. */
export function rowBytes(type: GpuWeightType, K: number): number {
  switch (type) {
    case 'F32': return 4 * K;
    case 'F16': case 'BF16': return 2 * K;
    case 'Q8_0': return (K / 32) * 34;
    case 'Q4_0': return (K / 32) * 18;
    case 'Q4_K': return (K / 256) * 144;
    case 'Q5_K': return (K / 256) * 176;
    case 'Q6_K': return (K / 256) * 210;
  }
}

/** Q4_K (bits 4) and Q5_K (bits 5) share everything but the fifth bit (qh, 32 bytes after the scales). */
function qxk(bits: 4 | 5): string {
  const size = bits === 4 ? 144 : 176;
  const qs = bits === 4 ? 16 : 48;
  return `
  let blk = rowOff + (c >> 3u) * ${size}u;
  let j = c & 7u;
  let d = half_at(blk);
  let dmin = half_at(blk + 2u);
  let sb = blk + 4u;
  var sc: u32;
  var mn: u32;
  if (j < 4u) {
    sc = byte_at(sb + j) & 63u;
    mn = byte_at(sb + j + 4u) & 63u;
  } else {
    sc = (byte_at(sb + j + 4u) & 15u) | ((byte_at(sb + j - 4u) >> 6u) << 4u);
    mn = (byte_at(sb + j + 4u) >> 4u) | ((byte_at(sb + j) >> 6u) << 4u);
  }
  let q = blk + ${qs}u + 32u * (j >> 1u);
  let sh = (j & 1u) * 4u;
  let a = d * f32(sc);
  let bm = dmin * f32(mn);
  for (var i = 0u; i < 32u; i++) {
    var v = (byte_at(q + i) >> sh) & 15u;
    ${bits === 5 ? 'v = v | (((byte_at(blk + 16u + i) >> j) & 1u) << 4u);' : ''}
    w[i] = a * f32(v) - bm;
  }`;
}

/** Fills w[0..31] with chunk c of the row at byte rowOff. */
const DEQUANT: Record<GpuWeightType, string> = {
  F32: `
  for (var i = 0u; i < 32u; i++) {
    let k = c * 32u + i;
    if (k < P.K) { w[i] = bitcast<f32>(W[(rowOff >> 2u) + k]); } else { w[i] = 0.0; }
  }`,
  F16: `
  for (var i = 0u; i < 32u; i++) {
    let k = c * 32u + i;
    if (k < P.K) { w[i] = half_at(rowOff + 2u * k); } else { w[i] = 0.0; }
  }`,
  BF16: `
  for (var i = 0u; i < 32u; i++) {
    let k = c * 32u + i;
    if (k < P.K) { w[i] = bitcast<f32>((byte_at(rowOff + 2u * k) | (byte_at(rowOff + 2u * k + 1u) << 8u)) << 16u); } else { w[i] = 0.0; }
  }`,
  Q4_0: `
  let b = rowOff + c * 18u;
  let d = half_at(b);
  for (var i = 0u; i < 16u; i++) {
    let q = byte_at(b + 2u + i);
    w[i] = d * (f32(q & 15u) - 8.0);
    w[i + 16u] = d * (f32(q >> 4u) - 8.0);
  }`,
  Q8_0: `
  let b = rowOff + c * 34u;
  let d = half_at(b);
  for (var i = 0u; i < 32u; i++) { w[i] = d * i8_of(byte_at(b + 2u + i)); }`,
  Q4_K: qxk(4),
  Q5_K: qxk(5),
  Q6_K: `
  let blk = rowOff + (c >> 3u) * 210u;
  let h = (c & 7u) >> 2u;
  let g = c & 3u;
  let d = half_at(blk + 208u);
  for (var l = 0u; l < 32u; l++) {
    let ql = byte_at(blk + 64u * h + 32u * (g & 1u) + l);
    var lo = ql & 15u;
    if ((g >> 1u) == 1u) { lo = ql >> 4u; }
    let hi = (byte_at(blk + 128u + 32u * h + l) >> (2u * g)) & 3u;
    let sc = i8_of(byte_at(blk + 192u + 8u * h + 2u * g + (l >> 4u)));
    w[l] = d * sc * f32(i32(lo | (hi << 4u)) - 32);
  }`,
};

/** Static per-product parameters (a uniform made once per product), 8 u32. */
export function packMatmulParams(p: { N: number; K: number; xStride: number; outStride: number; outOff: number; accumulate: boolean; mSel: 0 | 1 | 2; rowBytes: number }): Uint32Array {
  return Uint32Array.from([p.N, p.K, p.xStride, p.outStride, p.outOff, p.accumulate ? 1 : 0, p.mSel, p.rowBytes]);
}

export const MATMUL_TM = 8;

export function matmulShader(type: GpuWeightType): string {
  return /* wgsl */ `
${STEP_WGSL}
struct Params { N: u32, K: u32, xStride: u32, outStride: u32, outOff: u32, accumulate: u32, mSel: u32, rowBytes: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<uniform> S: Step;
@group(0) @binding(2) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read> X: array<f32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
const TM: u32 = ${MATMUL_TM}u;
const WG: u32 = 64u;
var<workgroup> red: array<f32, ${MATMUL_TM * 64}>;
${BYTES_WGSL}

fn dequant(rowOff: u32, c: u32, w: ptr<function, array<f32, 32>>) {${DEQUANT[type].replace(/\bw\[([^\]]+)\] =/g, '(*w)[$1] =')}
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let n = wid.x + wid.y * nwg.x;
  var M = S.n;
  if (P.mSel == 1u) { M = S.s; }
  if (P.mSel == 2u) { M = S.headRows; }
  let m0 = wid.z * TM;
  if (n >= P.N || m0 >= M) { return; }
  var xBase = 0u;
  if (P.mSel == 2u) { xBase = S.headRow0 * P.xStride; }
  let rowOff = n * P.rowBytes;
  let chunks = (P.K + 31u) / 32u;
  var acc: array<f32, ${MATMUL_TM}>;
  var w: array<f32, 32>;
  for (var c = tid; c < chunks; c += WG) {
    dequant(rowOff, c, &w);
    let k0 = c * 32u;
    let kn = min(32u, P.K - k0);
    for (var r = 0u; r < TM; r++) {
      let m = m0 + r;
      if (m < M) {
        let xo = xBase + m * P.xStride + k0;
        var s = 0.0;
        for (var i = 0u; i < kn; i++) { s += w[i] * X[xo + i]; }
        acc[r] += s;
      }
    }
  }
  for (var r = 0u; r < TM; r++) { red[r * WG + tid] = acc[r]; }
  workgroupBarrier();
  for (var hw = WG / 2u; hw > 0u; hw >>= 1u) {
    if (tid < hw) {
      for (var r = 0u; r < TM; r++) { red[r * WG + tid] += red[r * WG + tid + hw]; }
    }
    workgroupBarrier();
  }
  if (tid < TM) {
    let m = m0 + tid;
    if (m < M) {
      let yo = m * P.outStride + P.outOff + n;
      let v = red[tid * WG];
      if (P.accumulate != 0u) { Y[yo] = Y[yo] + v; } else { Y[yo] = v; }
    }
  }
}`;
}

/**
 * Embedding rows: Y[t, :] = row tokens[t] of E, for the rows rowStart ≤ id < rowStart + rows that
 * this part of E holds (a table larger than one binding is split by rows). One workgroup per
 * token, one thread per chunk of 32.  E [V, D] stored; Y [n, D].
 */
export function getRowsShader(type: GpuWeightType): string {
  return /* wgsl */ `
${STEP_WGSL}
struct Params { K: u32, rowStart: u32, rows: u32, rowBytes: u32 }
@group(0) @binding(0) var<uniform> P: Params;
@group(0) @binding(1) var<uniform> S: Step;
@group(0) @binding(2) var<storage, read> W: array<u32>;
@group(0) @binding(3) var<storage, read> Meta: array<i32>;
@group(0) @binding(4) var<storage, read_write> Y: array<f32>;
${BYTES_WGSL}

fn dequant(rowOff: u32, c: u32, w: ptr<function, array<f32, 32>>) {${DEQUANT[type].replace(/\bw\[([^\]]+)\] =/g, '(*w)[$1] =')}
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.x;
  if (t >= S.n) { return; }
  let id = u32(Meta[S.tokOff + t]);
  if (id < P.rowStart || id >= P.rowStart + P.rows) { return; }
  let rowOff = (id - P.rowStart) * P.rowBytes;
  var w: array<f32, 32>;
  for (var c = tid; c * 32u < P.K; c += 64u) {
    dequant(rowOff, c, &w);
    for (var i = 0u; i < 32u && c * 32u + i < P.K; i++) { Y[t * P.K + c * 32u + i] = w[i]; }
  }
}`;
}
