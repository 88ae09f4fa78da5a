/**
 * Conversions between the stored float formats and float32. tfjs computes in float32 only,
 * so every loader widens to Float32Array on load.
 */

/** IEEE half (binary16) bits → number. */
export function f16ToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const exp = (h >> 10) & 0x1f;
  const frac = h & 0x3ff;
  if (exp === 0) return sign * frac * 2 ** -24; // subnormal
  if (exp === 0x1f) return frac ? NaN : sign * Infinity;
  return sign * (1 + frac / 1024) * 2 ** (exp - 15);
}

const f32Buf = new Float32Array(1);
const u32Buf = new Uint32Array(f32Buf.buffer);

/** number → IEEE half bits, round to nearest even (as numpy / ggml do). */
export function f32ToF16(value: number): number {
  f32Buf[0] = value;
  const x = u32Buf[0]!;
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const mant = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  const e = exp - 127 + 15;
  if (e >= 0x1f) return sign | 0x7c00; // overflow → inf
  if (e <= 0) {
    if (e < -10) return sign; // underflow → ±0
    // Subnormal half: shift the mantissa (with its implicit 1) right, round to nearest even.
    const m = mant | 0x800000;
    const shift = 14 - e;
    let half = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const mid = 1 << (shift - 1);
    if (rem > mid || (rem === mid && half & 1)) half++;
    return sign | half;
  }
  let half = (e << 10) | (mant >>> 13);
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && half & 1)) half++; // carry may bump the exponent: still correct
  return sign | half;
}

/** bfloat16 bits → number: the high half of a float32. */
export function bf16ToF32(b: number): number {
  u32Buf[0] = (b & 0xffff) << 16;
  return f32Buf[0]!;
}

/** Widens `count` little-endian halfs starting at `byteOffset` of `buf`. */
export function decodeF16(buf: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(buf.buffer, buf.byteOffset + byteOffset, count * 2);
  for (let i = 0; i < count; i++) out[i] = f16ToF32(dv.getUint16(i * 2, true));
  return out;
}

export function decodeBf16(buf: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(buf.buffer, buf.byteOffset + byteOffset, count * 2);
  for (let i = 0; i < count; i++) out[i] = bf16ToF32(dv.getUint16(i * 2, true));
  return out;
}

/** Copies (unaligned-safe) `count` little-endian float32s. */
export function decodeF32(buf: Uint8Array, byteOffset: number, count: number): Float32Array {
  const out = new Float32Array(count);
  const dv = new DataView(buf.buffer, buf.byteOffset + byteOffset, count * 4);
  for (let i = 0; i < count; i++) out[i] = dv.getFloat32(i * 4, true);
  return out;
}

export function encodeF32(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 4);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setFloat32(i * 4, data[i]!, true);
  return out;
}

export function encodeF16(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) dv.setUint16(i * 2, f32ToF16(data[i]!), true);
  return out;
}

/** float32 → bfloat16 bits, round to nearest even. */
export function encodeBf16(data: Float32Array): Uint8Array {
  const out = new Uint8Array(data.length * 2);
  const dv = new DataView(out.buffer);
  for (let i = 0; i < data.length; i++) {
    f32Buf[0] = data[i]!;
    const x = u32Buf[0]!;
    const isNan = (x & 0x7fffffff) > 0x7f800000;
    const rounded = isNan ? (x >>> 16) | 0x40 : (x + 0x7fff + ((x >>> 16) & 1)) >>> 16;
    dv.setUint16(i * 2, rounded & 0xffff, true);
  }
  return out;
}
