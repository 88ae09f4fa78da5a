/**
 * Paged attention for a ragged batch (decode and chunked prefill alike): one workgroup of 64
 * threads per (token t, query head h), dispatch (N, H). Token t at position p of sequence s
 * attends to positions 0 … p of s, read through s's block table:
 *
 *   key j  →  block  table[s, j / B],  slot j % B  →  K[block, kvHead, j % B, :]
 *
 * (this step's own keys were written by the rope kernel before). Keys go in tiles of 64, one per
 * thread; an online softmax (running max m, sum l) rescales the output, which each thread keeps
 * for its Dh / 64 dimensions. GQA: query head h reads kv head h / (H / Hkv). A padding row
 * (sequence −1) writes zeros.
 *
 *   out [N, H·Dh];  q read in place from qkv [N, (H + 2·Hkv)·Dh]
 */
import { STEP_WGSL } from './common.ts';
import type { OpSizes } from './ops.ts';

export function attentionShader(z: OpSizes): string {
  const perThread = Math.ceil(z.Dh / 64);
  return /* wgsl */ `
${STEP_WGSL}
@group(0) @binding(0) var<uniform> S: Step;
@group(0) @binding(1) var<storage, read> QKV: array<f32>;
@group(0) @binding(2) var<storage, read> Kc: array<f32>;
@group(0) @binding(3) var<storage, read> Vc: array<f32>;
@group(0) @binding(4) var<storage, read> Meta: array<i32>;
@group(0) @binding(5) var<storage, read_write> Out: array<f32>;
const H: u32 = ${z.H}u;
const HKV: u32 = ${z.Hkv}u;
const DH: u32 = ${z.Dh}u;
const BS: u32 = ${z.blockSize}u;
const QKVW: u32 = ${(z.H + 2 * z.Hkv) * z.Dh}u;
const GROUP: u32 = ${z.H / z.Hkv}u;
const PT: u32 = ${perThread}u;
const SCALE: f32 = ${Math.fround(1 / Math.sqrt(z.Dh)).toExponential(9)}f;
const NEG: f32 = -3.0e38f;
var<workgroup> qv: array<f32, ${z.Dh}>;
var<workgroup> sc: array<f32, 64>;
/** Offset of each key of the tile in the pools (the block table is read once per key). */
var<workgroup> kbase: array<u32, 64>;

fn key_base(tableBase: u32, kvh: u32, j: u32) -> u32 {
  let blk = u32(Meta[tableBase + j / BS]);
  return ((blk * HKV + kvh) * BS + j % BS) * DH;
}

@compute @workgroup_size(64)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let t = wid.x;
  let h = wid.y;
  if (t >= S.n) { return; }
  let seq = Meta[S.seqOff + t];
  let outBase = t * H * DH + h * DH;
  if (seq < 0) {
    for (var d = tid; d < DH; d += 64u) { Out[outBase + d] = 0.0; }
    return;
  }
  let L = u32(Meta[S.posOff + t]) + 1u;
  let kvh = h / GROUP;
  let tableBase = S.tableOff + u32(seq) * S.maxBlocks;
  for (var d = tid; d < DH; d += 64u) { qv[d] = QKV[t * QKVW + h * DH + d] * SCALE; }
  workgroupBarrier();
  var m = NEG;
  var l = 0.0;
  var acc: array<f32, PT>;
  for (var j0 = 0u; j0 < L; j0 += 64u) {
    let j = j0 + tid;
    var s = NEG;
    if (j < L) {
      let kb = key_base(tableBase, kvh, j);
      kbase[tid] = kb;
      s = 0.0;
      for (var d = 0u; d < DH; d++) { s += qv[d] * Kc[kb + d]; }
    }
    sc[tid] = s;
    workgroupBarrier();
    var tmax = m;
    for (var i = 0u; i < 64u; i++) { tmax = max(tmax, sc[i]); }
    workgroupBarrier();
    var p = 0.0;
    if (j < L) { p = exp(s - tmax); }
    sc[tid] = p;
    workgroupBarrier();
    let corr = exp(m - tmax);
    var psum = 0.0;
    let kn = min(64u, L - j0);
    for (var i = 0u; i < kn; i++) { psum += sc[i]; }
    l = l * corr + psum;
    for (var e = 0u; e < PT; e++) {
      let d = tid + 64u * e;
      if (d < DH) {
        var a = acc[e] * corr;
        for (var i = 0u; i < kn; i++) { a += sc[i] * Vc[kbase[i] + d]; }
        acc[e] = a;
      }
    }
    m = tmax;
    workgroupBarrier();
  }
  for (var e = 0u; e < PT; e++) {
    let d = tid + 64u * e;
    if (d < DH) { Out[outBase + d] = acc[e] / l; }
  }
}`;
}
