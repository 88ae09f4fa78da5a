import { f16ToF32, f32ToF16 } from '../dtype.ts';

/**
 * ggml's k-quants: super blocks of 256 elements (QK_K), block layouts as ggml-common.h defines them.
 *
 *   Q4_K (144 B): f16 d | f16 dmin | u8 scales[12] | u8 qs[128]
 *   Q5_K (176 B): f16 d | f16 dmin | u8 scales[12] | u8 qh[32] | u8 qs[128]
 *   Q6_K (210 B): u8 ql[128] | u8 qh[64] | i8 scales[16] | f16 d
 *
 * Q4_K / Q5_K: 8 sub-blocks of 32 with 6-bit scale sc_j and min m_j; x = d·sc_j·q − dmin·m_j.
 * In each 64-element chunk c the low nibbles of qs[32c ..] are sub-block 2c, the high nibbles
 * 2c+1; Q5_K's bit j of qh[l] is the fifth bit of element l of sub-block j.
 * Q6_K: 16 sub-blocks of 16 with an int8 scale; x = d·scale·(q − 32), q 6 bits (see dequantizeQ6_K).
 * These are the reference the wasm kernels (runner/kernels/kdot.c) are tested against.
 */
export const QK_K = 256;

/** The 6-bit scale and min of sub-block j from the 12 packed bytes at `at`. */
function scaleMin(b: Uint8Array, at: number, j: number): [number, number] {
  if (j < 4) return [b[at + j]! & 63, b[at + j + 4]! & 63];
  return [(b[at + j + 4]! & 15) | ((b[at + j - 4]! >> 6) << 4), (b[at + j + 4]! >> 4) | ((b[at + j]! >> 6) << 4)];
}

function setScaleMin(b: Uint8Array, at: number, j: number, sc: number, mn: number): void {
  if (j < 4) {
    b[at + j] = (b[at + j]! & 0xc0) | sc;
    b[at + j + 4] = (b[at + j + 4]! & 0xc0) | mn;
  } else {
    b[at + j + 4] = (sc & 15) | ((mn & 15) << 4);
    b[at + j - 4] = (b[at + j - 4]! & 63) | ((sc >> 4) << 6);
    b[at + j] = (b[at + j]! & 63) | ((mn >> 4) << 6);
  }
}

const half = (b: Uint8Array, at: number) => f16ToF32(b[at]! | (b[at + 1]! << 8));
const setHalf = (b: Uint8Array, at: number, v: number) => {
  const h = f32ToF16(v);
  b[at] = h & 255;
  b[at + 1] = h >> 8;
};

/** Q4_K (bits 4) and Q5_K (bits 5) share everything but the fifth bit. */
function dequantizeQxK(bits: 4 | 5, buf: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const size = bits === 4 ? 144 : 176;
  const qsAt = bits === 4 ? 16 : 48;
  for (let i = 0; i < count / QK_K; i++) {
    const blk = byteOffset + i * size;
    const d = half(buf, blk);
    const dmin = half(buf, blk + 2);
    for (let j = 0; j < 8; j++) {
      const [sc, mn] = scaleMin(buf, blk + 4, j);
      const q = blk + qsAt + 32 * (j >> 1);
      for (let l = 0; l < 32; l++) {
        let v = j & 1 ? buf[q + l]! >> 4 : buf[q + l]! & 15;
        if (bits === 5) v |= ((buf[blk + 16 + l]! >> j) & 1) << 4;
        out[i * QK_K + 32 * j + l] = d * sc * v - dmin * mn;
      }
    }
  }
  return out;
}

export const dequantizeQ4_K = (buf: Uint8Array, byteOffset: number, count: number) => dequantizeQxK(4, buf, byteOffset, count);
export const dequantizeQ5_K = (buf: Uint8Array, byteOffset: number, count: number) => dequantizeQxK(5, buf, byteOffset, count);

export function dequantizeQ6_K(buf: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  for (let i = 0; i < count / QK_K; i++) {
    const blk = byteOffset + i * 210;
    const d = half(buf, blk + 208);
    for (let e = 0; e < QK_K; e++) {
      const h = e >> 7; // 128-element half
      const g = (e >> 5) & 3; // group of 32 in it
      const l = e & 31;
      const ql = buf[blk + 64 * h + 32 * (g & 1) + l]!;
      const lo = g >> 1 ? ql >> 4 : ql & 15;
      const hi = (buf[blk + 128 + 32 * h + l]! >> (2 * g)) & 3;
      const sc = (buf[blk + 192 + 8 * h + 2 * g + (l >> 4)]! << 24) >> 24; // int8
      out[i * QK_K + e] = d * sc * ((lo | (hi << 4)) - 32);
    }
  }
  return out;
}

/**
 * Q4_K / Q5_K quantizer (deepscale's own, simpler than ggml's iterative search): each sub-block
 * maps [min(x, 0), max x] onto 0 .. 2^bits − 1; the sub-block scales and mins are then quantized
 * to 6 bits against the super block's d and dmin, and the codes recomputed with the rounded ones.
 */
function quantizeQxK(bits: 4 | 5, x: Float32Array): Uint8Array {
  const size = bits === 4 ? 144 : 176;
  const qsAt = bits === 4 ? 16 : 48;
  const top = (1 << bits) - 1;
  const out = new Uint8Array((x.length / QK_K) * size);
  const scales = new Float32Array(8);
  const mins = new Float32Array(8);
  for (let i = 0; i < x.length / QK_K; i++) {
    const blk = i * size;
    for (let j = 0; j < 8; j++) {
      let lo = 0;
      let hi = -Infinity;
      for (let l = 0; l < 32; l++) {
        const v = x[i * QK_K + 32 * j + l]!;
        lo = Math.min(lo, v);
        hi = Math.max(hi, v);
      }
      scales[j] = (hi - lo) / top;
      mins[j] = -lo;
    }
    const d = Math.max(...scales) / 63;
    const dmin = Math.max(...mins) / 63;
    setHalf(out, blk, d);
    setHalf(out, blk + 2, dmin);
    const dq = half(out, blk);
    const dminq = half(out, blk + 2);
    for (let j = 0; j < 8; j++) {
      const sc = dq > 0 ? Math.min(63, Math.round(scales[j]! / dq)) : 0;
      const mn = dminq > 0 ? Math.min(63, Math.round(mins[j]! / dminq)) : 0;
      setScaleMin(out, blk + 4, j, sc, mn);
      const step = dq * sc;
      const q = blk + qsAt + 32 * (j >> 1);
      for (let l = 0; l < 32; l++) {
        const v = x[i * QK_K + 32 * j + l]!;
        const c = step > 0 ? Math.max(0, Math.min(top, Math.round((v + dminq * mn) / step))) : 0;
        out[q + l] = out[q + l]! | ((c & 15) << (j & 1 ? 4 : 0));
        if (bits === 5 && c & 16) out[blk + 16 + l] = out[blk + 16 + l]! | (1 << j);
      }
    }
  }
  return out;
}

export const quantizeQ4_K = (x: Float32Array) => quantizeQxK(4, x);
export const quantizeQ5_K = (x: Float32Array) => quantizeQxK(5, x);

/** Q6_K quantizer: per 16-element sub-block a signed scale maps its largest magnitude to −32, then int8 scales against the super block's d. */
export function quantizeQ6_K(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / QK_K) * 210);
  const scales = new Float32Array(16);
  for (let i = 0; i < x.length / QK_K; i++) {
    const blk = i * 210;
    let amax = 0;
    for (let s = 0; s < 16; s++) {
      let vmax = 0;
      for (let l = 0; l < 16; l++) {
        const v = x[i * QK_K + 16 * s + l]!;
        if (Math.abs(v) > Math.abs(vmax)) vmax = v;
      }
      scales[s] = vmax / -32;
      amax = Math.max(amax, Math.abs(scales[s]!));
    }
    setHalf(out, blk + 208, amax / 127);
    const d = half(out, blk + 208);
    for (let s = 0; s < 16; s++) {
      const sc = d > 0 ? Math.max(-128, Math.min(127, Math.round(scales[s]! / d))) : 0;
      out[blk + 192 + s] = sc & 255;
      const step = d * sc;
      for (let l = 0; l < 16; l++) {
        const e = 16 * s + l;
        const c = step !== 0 ? Math.max(0, Math.min(63, Math.round(x[i * QK_K + e]! / step) + 32)) : 32;
        const h = e >> 7;
        const g = (e >> 5) & 3;
        const ll = e & 31;
        const qlAt = blk + 64 * h + 32 * (g & 1) + ll;
        out[qlAt] = out[qlAt]! | ((c & 15) << (g >> 1 ? 4 : 0));
        const qhAt = blk + 128 + 32 * h + ll;
        out[qhAt] = out[qhAt]! | ((c >> 4) << (2 * g));
      }
    }
  }
  return out;
}
