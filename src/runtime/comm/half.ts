/**
 * float32 <-> fp16 / bf16 conversion, round to nearest even, on raw bit patterns.
 * fp16: 1 sign, 5 exponent (bias 15), 10 mantissa bits. bf16: the top 16 bits of a float32.
 */

/** One float32 bit pattern to fp16 bits. Overflow gives ±Inf, NaN stays NaN (quiet). */
export function f32BitsToF16(x: number): number {
  const sign = (x >>> 16) & 0x8000;
  const exp = (x >>> 23) & 0xff;
  const man = x & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (man !== 0 ? 0x200 | (man >>> 13) : 0);
  const e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    // Subnormal half: h = (1.man) * 2^(e-14) in units of 2^-24, i.e. M >> (14 - e).
    const shift = 14 - e;
    if (shift > 24) return sign;
    const m = man | 0x800000;
    let h = m >>> shift;
    const rem = m & ((1 << shift) - 1);
    const half = 1 << (shift - 1);
    if (rem > half || (rem === half && (h & 1) === 1)) h++;
    return sign | h;
  }
  let h = (e << 10) | (man >>> 13);
  const rem = man & 0x1fff;
  // A carry out of the mantissa bumps the exponent, up to Inf: the right answer.
  if (rem > 0x1000 || (rem === 0x1000 && (h & 1) === 1)) h++;
  return sign | h;
}

/** One float32 bit pattern to bf16 bits. */
export function f32BitsToBf16(x: number): number {
  if ((x & 0x7f800000) === 0x7f800000 && (x & 0x7fffff) !== 0) return ((x >>> 16) | 0x40) & 0xffff;
  return ((x + 0x7fff + ((x >>> 16) & 1)) >>> 16) & 0xffff;
}

function f16BitsToF32(h: number): number {
  const sign = h & 0x8000 ? -1 : 1;
  const e = (h >>> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return sign * m * 2 ** -24;
  if (e === 31) return m === 0 ? sign * Infinity : NaN;
  return sign * (1 + m / 1024) * 2 ** (e - 15);
}

let f16Table: Float32Array | null = null;
/** All 65536 fp16 values as float32: decoding is one table lookup per element. */
export function f16DecodeTable(): Float32Array {
  if (!f16Table) {
    f16Table = new Float32Array(65536);
    for (let h = 0; h < 65536; h++) f16Table[h] = f16BitsToF32(h);
  }
  return f16Table;
}

/** src [n] float32 -> dst [n] fp16 bits. */
export function packF16(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToF16(bits[i]!);
}

/** src [n] float32 -> dst [n] bf16 bits. */
export function packBf16(src: Float32Array, dst: Uint16Array): void {
  const bits = new Uint32Array(src.buffer, src.byteOffset, src.length);
  for (let i = 0; i < bits.length; i++) dst[i] = f32BitsToBf16(bits[i]!);
}

/** src [n] fp16 bits -> dst [n] float32. */
export function unpackF16(src: Uint16Array, dst: Float32Array): void {
  const t = f16DecodeTable();
  for (let i = 0; i < src.length; i++) dst[i] = t[src[i]!]!;
}

/** src [n] bf16 bits -> dst [n] float32. */
export function unpackBf16(src: Uint16Array, dst: Float32Array): void {
  const out = new Uint32Array(dst.buffer, dst.byteOffset, dst.length);
  for (let i = 0; i < src.length; i++) out[i] = src[i]! << 16;
}

/** Largest finite fp16 value. */
export const F16_MAX = 65504;

/**
 * The power of two that lifts a sum of `terms` values of magnitude up to `maxAbs` into float16's
 * normal range without overflow: gradients divided by the global token count sit near
 * 1e-6…1e-8, at or below fp16's smallest normal (6.1e-5) and subnormal (6e-8) values, and would
 * flush to zero unscaled. The scaled sum stays below 2^15 (< F16_MAX). Exact in float32: a power
 * of two only moves the exponent. 1 for a zero or non-finite max (nothing to save, or an
 * overflow that must stay visible).
 */
export function f16WireScale(maxAbs: number, terms: number): number {
  if (!(maxAbs > 0) || !Number.isFinite(maxAbs)) return 1;
  const k = Math.floor(Math.log2(2 ** 15 / (maxAbs * terms)));
  return 2 ** Math.max(-100, Math.min(100, k));
}
