import { f16ToF32, f32ToF16 } from '../dtype.ts';

/**
 * ggml's 32-element block quantizations. Both dequantize as x = d * q with one f16 scale d per
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
