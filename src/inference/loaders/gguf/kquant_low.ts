import { f16ToF32, f32ToF16 } from '../dtype.ts';
import { QK_K } from './kquant.ts';

/**
 * The 2- and 3-bit k-quants (ggml-common.h), 256-element super blocks of 16 sub-blocks of 16:
 *
 *   Q2_K (84 B):  u8 scales[16] | u8 qs[64] | f16 d | f16 dmin
 *     x = d·(sc & 15)·q − dmin·(sc >> 4), q 2 bits
 *   Q3_K (110 B): u8 hmask[32] | u8 qs[64] | u8 scales[12] | f16 d
 *     x = d·(sc − 32)·(q − 4·!h), q 2 bits, h one bit of hmask, sc 6 bits (packed in 12 bytes)
 *
 * Element e: half n = e >> 7, j = (e >> 5) & 3, h = (e >> 4) & 1, l = e & 15. Its 2 bits are
 * bits 2j, 2j+1 of qs[32n + 16h + l], its sub-block is 8n + 2j + h, and Q3_K's high bit is bit
 * 4n + j of hmask[16h + l].
 */
function where(e: number): { q: number; shift: number; sub: number; hm: number; hbit: number } {
  const n = e >> 7;
  const j = (e >> 5) & 3;
  const h = (e >> 4) & 1;
  const l = e & 15;
  return { q: 32 * n + 16 * h + l, shift: 2 * j, sub: 8 * n + 2 * j + h, hm: 16 * h + l, hbit: 4 * n + j };
}
const WHERE = Array.from({ length: QK_K }, (_, e) => where(e));

const half = (b: Uint8Array, at: number) => f16ToF32(b[at]! | (b[at + 1]! << 8));
const setHalf = (b: Uint8Array, at: number, v: number) => {
  const h = f32ToF16(v);
  b[at] = h & 255;
  b[at + 1] = h >> 8;
};

/** Q3_K's 16 six-bit scales (still +32) from the 12 packed bytes at `at`. */
function q3Scale(b: Uint8Array, at: number, i: number): number {
  const low = i < 8 ? b[at + i]! & 15 : b[at + i - 8]! >> 4;
  return low | (((b[at + 8 + (i & 3)]! >> (2 * (i >> 2))) & 3) << 4);
}

export function dequantizeQ2_K(buf: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count / QK_K; i++) {
    const blk = byteOffset + 84 * i;
    const d = half(buf, blk + 80);
    const dmin = half(buf, blk + 82);
    for (let e = 0; e < QK_K; e++) {
      const w = WHERE[e]!;
      const sc = buf[blk + w.sub]!;
      out[i * QK_K + e] = d * (sc & 15) * ((buf[blk + 16 + w.q]! >> w.shift) & 3) - dmin * (sc >> 4);
    }
  }
  return out;
}

export function dequantizeQ3_K(buf: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count / QK_K; i++) {
    const blk = byteOffset + 110 * i;
    const d = half(buf, blk + 108);
    for (let e = 0; e < QK_K; e++) {
      const w = WHERE[e]!;
      const q = ((buf[blk + 32 + w.q]! >> w.shift) & 3) - ((buf[blk + w.hm]! >> w.hbit) & 1 ? 0 : 4);
      out[i * QK_K + e] = d * (q3Scale(buf, blk + 96, w.sub) - 32) * q;
    }
  }
  return out;
}

/** Q2_K quantizer: per sub-block [min(x, 0), max x] onto 0..3; 4-bit scales and mins against the super block's d and dmin. */
export function quantizeQ2_K(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / QK_K) * 84);
  const scales = new Float32Array(16);
  const mins = new Float32Array(16);
  for (let i = 0; i < x.length / QK_K; i++) {
    const blk = 84 * i;
    for (let s = 0; s < 16; s++) {
      let lo = 0;
      let hi = -Infinity;
      for (let l = 0; l < 16; l++) (lo = Math.min(lo, x[i * QK_K + 16 * s + l]!)), (hi = Math.max(hi, x[i * QK_K + 16 * s + l]!));
      scales[s] = (hi - lo) / 3;
      mins[s] = -lo;
    }
    setHalf(out, blk + 80, Math.max(...scales) / 15);
    setHalf(out, blk + 82, Math.max(...mins) / 15);
    const d = half(out, blk + 80);
    const dmin = half(out, blk + 82);
    const sc = scales.map((v) => (d > 0 ? Math.min(15, Math.round(v / d)) : 0));
    const mn = mins.map((v) => (dmin > 0 ? Math.min(15, Math.round(v / dmin)) : 0));
    for (let s = 0; s < 16; s++) out[blk + s] = sc[s]! | (mn[s]! << 4);
    for (let e = 0; e < QK_K; e++) {
      const w = WHERE[e]!;
      const step = d * sc[w.sub]!;
      const q = step > 0 ? Math.max(0, Math.min(3, Math.round((x[i * QK_K + e]! + dmin * mn[w.sub]!) / step))) : 0;
      out[blk + 16 + w.q] = out[blk + 16 + w.q]! | (q << w.shift);
    }
  }
  return out;
}

/** Q3_K quantizer: per sub-block a signed scale maps its largest magnitude to −4; 6-bit scales (+32) against the super block's d. */
export function quantizeQ3_K(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / QK_K) * 110);
  const scales = new Float32Array(16);
  for (let i = 0; i < x.length / QK_K; i++) {
    const blk = 110 * i;
    let amax = 0;
    for (let s = 0; s < 16; s++) {
      let vmax = 0;
      for (let l = 0; l < 16; l++) if (Math.abs(x[i * QK_K + 16 * s + l]!) > Math.abs(vmax)) vmax = x[i * QK_K + 16 * s + l]!;
      scales[s] = vmax / -4;
      amax = Math.max(amax, Math.abs(scales[s]!));
    }
    setHalf(out, blk + 108, amax / 31);
    const d = half(out, blk + 108);
    for (let s = 0; s < 16; s++) {
      const sc = (d > 0 ? Math.max(-32, Math.min(31, Math.round(scales[s]! / d))) : 0) + 32;
      // low nibble: bytes 0..7 (s < 8) or their high nibbles (s ≥ 8); top 2 bits: bytes 8..11
      if (s < 8) out[blk + 96 + s] = out[blk + 96 + s]! | (sc & 15);
      else out[blk + 96 + s - 8] = out[blk + 96 + s - 8]! | ((sc & 15) << 4);
      out[blk + 104 + (s & 3)] = out[blk + 104 + (s & 3)]! | ((sc >> 4) << (2 * (s >> 2)));
    }
    for (let e = 0; e < QK_K; e++) {
      const w = WHERE[e]!;
      const step = d * (q3Scale(out, blk + 96, w.sub) - 32);
      const q = (step !== 0 ? Math.max(-4, Math.min(3, Math.round(x[i * QK_K + e]! / step))) : 0) + 4;
      out[blk + 32 + w.q] = out[blk + 32 + w.q]! | ((q & 3) << w.shift);
      if (q & 4) out[blk + w.hm] = out[blk + w.hm]! | (1 << w.hbit);
    }
  }
  return out;
}
