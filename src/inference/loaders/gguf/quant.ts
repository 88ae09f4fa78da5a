import { f16ToF32, f32ToF16 } from '../dtype.ts';

/**
 * ggml's 32-element block quantizations. Q8_0 and Q4_0 dequantize as x = d * q with one f16 scale d per
 * block; Q8_0 keeps q in int8, Q4_0 packs q + 8 in nibbles (low nibbles are elements 0..15,
 * high nibbles 16..31).
 */
export const QK = 32;

export function dequantizeQ8_0(buf: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(buf.buffer, buf.byteOffset + byteOffset);
  for (let b = 0; b < count / QK; b++) {
    const base = b * 34;
    const d = f16ToF32(dv.getUint16(base, true));
    for (let j = 0; j < QK; j++) out[b * QK + j] = d * dv.getInt8(base + 2 + j);
  }
  return out;
}

export function dequantizeQ4_0(buf: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(buf.buffer, buf.byteOffset + byteOffset);
  for (let b = 0; b < count / QK; b++) {
    const base = b * 18;
    const d = f16ToF32(dv.getUint16(base, true));
    for (let j = 0; j < QK / 2; j++) {
      const q = dv.getUint8(base + 2 + j);
      out[b * QK + j] = d * ((q & 0x0f) - 8);
      out[b * QK + j + QK / 2] = d * ((q >> 4) - 8);
    }
  }
  return out;
}

/** Q8_0 as ggml's reference quantizer: d = max|x| / 127, q = round(x / d). */
export function quantizeQ8_0(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / QK) * 34);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < x.length / QK; b++) {
    let amax = 0;
    for (let j = 0; j < QK; j++) amax = Math.max(amax, Math.abs(x[b * QK + j]!));
    const d = amax / 127;
    const id = d ? 1 / d : 0;
    dv.setUint16(b * 34, f32ToF16(d), true);
    for (let j = 0; j < QK; j++) dv.setInt8(b * 34 + 2 + j, Math.round(x[b * QK + j]! * id));
  }
  return out;
}

/** Q4_0 as ggml's reference quantizer: d = (signed value of max magnitude) / -8, q = clamp(round(x / d) + 8, 0, 15). */
export function quantizeQ4_0(x: Float32Array): Uint8Array {
  const out = new Uint8Array((x.length / QK) * 18);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < x.length / QK; b++) {
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[b * QK + j]!;
      if (Math.abs(v) > amax) { amax = Math.abs(v); max = v; }
    }
    const d = max / -8;
    const id = d ? 1 / d : 0;
    dv.setUint16(b * 18, f32ToF16(d), true);
    for (let j = 0; j < QK / 2; j++) {
      const lo = Math.min(15, Math.trunc(x[b * QK + j]! * id + 8.5));
      const hi = Math.min(15, Math.trunc(x[b * QK + j + QK / 2]! * id + 8.5));
      dv.setUint8(b * 18 + 2 + j, lo | (hi << 4));
    }
  }
  return out;
}

/**
 * The other 32-element blocks (ggml-common.h):
 *   Q4_1 (20 B): f16 d | f16 m | u8 qs[16]              x = d·q + m, q 4 bits (nibbles as Q4_0)
 *   Q5_0 (22 B): f16 d | u8 qh[4] | u8 qs[16]           x = d·(q − 16), q = nibble | bit j of qh (little-endian u32) << 4
 *   Q5_1 (24 B): f16 d | f16 m | u8 qh[4] | u8 qs[16]   x = d·q + m
 * Element j < 16 is the low nibble of qs[j] (high bit: qh bit j), element j + 16 the high nibble (bit j + 16).
 */
const LEGACY = {
  q4_1: { size: 20, qs: 4, qh: -1, offset: 0, min: true, bits: 4 },
  q5_0: { size: 22, qs: 6, qh: 2, offset: 16, min: false, bits: 5 },
  q5_1: { size: 24, qs: 8, qh: 4, offset: 0, min: true, bits: 5 },
} as const;

function dequantizeLegacy(kind: keyof typeof LEGACY, buf: Uint8Array, byteOffset: number, count: number): Float32Array {
  const L = LEGACY[kind];
  const out = new Float32Array(count);
  const dv = new DataView(buf.buffer, buf.byteOffset + byteOffset);
  for (let b = 0; b < count / QK; b++) {
    const base = b * L.size;
    const d = f16ToF32(dv.getUint16(base, true));
    const m = L.min ? f16ToF32(dv.getUint16(base + 2, true)) : 0;
    const qh = L.qh >= 0 ? dv.getUint32(base + L.qh, true) : 0;
    for (let j = 0; j < QK / 2; j++) {
      const q = dv.getUint8(base + L.qs + j);
      const lo = (q & 15) | (((qh >>> j) & 1) << 4);
      const hi = (q >> 4) | (((qh >>> (j + 16)) & 1) << 4);
      out[b * QK + j] = d * (lo - L.offset) + m;
      out[b * QK + j + QK / 2] = d * (hi - L.offset) + m;
    }
  }
  return out;
}

/** ggml's reference quantizers: with a min, [min, max] maps onto 0 .. 2^bits − 1; without (Q5_0), d = (signed value of max magnitude) / −16. */
function quantizeLegacy(kind: keyof typeof LEGACY, x: Float32Array): Uint8Array {
  const L = LEGACY[kind];
  const top = (1 << L.bits) - 1;
  const out = new Uint8Array((x.length / QK) * L.size);
  const dv = new DataView(out.buffer);
  for (let b = 0; b < x.length / QK; b++) {
    const base = b * L.size;
    let lo = Infinity;
    let hi = -Infinity;
    let amax = 0;
    let max = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[b * QK + j]!;
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      if (Math.abs(v) > amax) (amax = Math.abs(v)), (max = v);
    }
    const d = L.min ? (hi - lo) / top : max / -16;
    const id = d ? 1 / d : 0;
    dv.setUint16(base, f32ToF16(d), true);
    if (L.min) dv.setUint16(base + 2, f32ToF16(lo), true);
    let qh = 0;
    for (let j = 0; j < QK; j++) {
      const v = x[b * QK + j]!;
      const q = Math.min(top, Math.trunc(L.min ? (v - lo) * id + 0.5 : v * id + 16.5));
      const at = base + L.qs + (j % 16);
      out[at] = out[at]! | ((q & 15) << (j < 16 ? 0 : 4));
      qh |= (q >> 4) << j;
    }
    if (L.qh >= 0) dv.setUint32(base + L.qh, qh >>> 0, true);
  }
  return out;
}

export const dequantizeQ4_1 = (buf: Uint8Array, byteOffset: number, count: number) => dequantizeLegacy('q4_1', buf, byteOffset, count);
export const dequantizeQ5_0 = (buf: Uint8Array, byteOffset: number, count: number) => dequantizeLegacy('q5_0', buf, byteOffset, count);
export const dequantizeQ5_1 = (buf: Uint8Array, byteOffset: number, count: number) => dequantizeLegacy('q5_1', buf, byteOffset, count);
export const quantizeQ4_1 = (x: Float32Array) => quantizeLegacy('q4_1', x);
export const quantizeQ5_0 = (x: Float32Array) => quantizeLegacy('q5_0', x);
export const quantizeQ5_1 = (x: Float32Array) => quantizeLegacy('q5_1', x);
