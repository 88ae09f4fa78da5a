/** The 1-bit compressor against a float64 reference: the bits, the per-block scales and the error kept. */
import { describe, expect, it } from 'vitest';
import { compressWithFeedback, decompressInto, packedBytes } from '../../../src/compress/onebit/index.ts';
import { seededFloats } from '../../helpers/random.ts';

/** float64: c = x + e; per block s = √(mean c²); q = ±s (0 → +s); e' = c − q. */
function reference(x: Float32Array, e: Float32Array, B: number): { bits: number[]; scales: number[]; q: number[]; err: number[] } {
  const c = Array.from(x, (v, i) => Math.fround(v + e[i]!));
  const bits: number[] = [];
  const scales: number[] = [];
  const q: number[] = [];
  for (let lo = 0; lo < c.length; lo += B) {
    const blk = c.slice(lo, lo + B);
    const s = Math.sqrt(blk.reduce((a, v) => a + v * v, 0) / B);
    scales.push(s);
    for (const v of blk) {
      bits.push(v >= 0 ? 1 : 0);
      q.push(v >= 0 ? s : -s);
    }
  }
  return { bits, scales, q, err: c.map((v, i) => v - q[i]!) };
}

describe('1-bit compressor with error feedback', () => {
  const B = 64;
  const L = 4 * B;

  it('a message of L elements is L/8 sign bytes plus one float32 scale per block', () => {
    expect(packedBytes(L, B)).toBe(L / 8 + 4 * (L / B));
    expect(packedBytes(1 << 20, 512)).toBe((1 << 17) + (1 << 13));
    expect(() => packedBytes(100, 64)).toThrow(/whole number of blocks/);
    expect(() => packedBytes(96, 48)).toThrow(/multiple of 32/);
  });

  it('packs signs LSB-first, 8 to a byte, with the block RMS as scale, and keeps c − q as error (float64 reference)', () => {
    const x = seededFloats(L, 1);
    // Blocks of very different magnitude: each gets its own scale.
    for (let i = B; i < 2 * B; i++) x[i] = x[i]! * 1e-3;
    x[5] = 0; // zero goes to +1
    const e = seededFloats(L, 2, 0.1);
    const want = reference(x, e, B);
    const out = new Uint8Array(packedBytes(L, B));
    const err = Float32Array.from(e);
    compressWithFeedback(x, err, out, B);

    for (let i = 0; i < L; i++) expect((out[i >> 3]! >> (i & 7)) & 1, `bit ${i}`).toBe(want.bits[i]);
    const scales = new Float32Array(out.buffer, L / 8, L / B);
    for (let b = 0; b < L / B; b++) expect(scales[b]).toBe(Math.fround(want.scales[b]!));
    for (let i = 0; i < L; i++) expect(Math.abs(err[i]! - want.err[i]!)).toBeLessThanOrEqual(1e-7 * Math.max(1, Math.abs(want.err[i]!)));

    const q = new Float32Array(L);
    decompressInto(out, q, B);
    for (let i = 0; i < L; i++) expect(q[i]).toBe(Math.fround(want.q[i]! === 0 ? 0 : Math.sign(want.q[i]!) * Math.fround(want.scales[Math.floor(i / B)]!)));
    // Nothing is lost: x + e_old = q + e_new, to float32 rounding.
    for (let i = 0; i < L; i++) expect(Math.abs(x[i]! + e[i]! - (q[i]! + err[i]!))).toBeLessThan(1e-6);
  });

  it('decompressInto can scale and accumulate (the server average)', () => {
    const x = seededFloats(L, 3);
    const out = new Uint8Array(packedBytes(L, B));
    compressWithFeedback(x, new Float32Array(L), out, B);
    const q = new Float32Array(L);
    decompressInto(out, q, B);
    const acc = Float32Array.from({ length: L }, () => 1);
    decompressInto(out, acc, B, 0.5, true);
    for (let i = 0; i < L; i++) expect(acc[i]).toBeCloseTo(1 + 0.5 * q[i]!, 6);
  });

  it('error feedback: the running mean of what is sent converges to the input (error bounded, gone as 1/T)', () => {
    const x = seededFloats(L, 4);
    const err = new Float32Array(L);
    const out = new Uint8Array(packedBytes(L, B));
    const q = new Float32Array(L);
    const sum = new Float64Array(L);
    const gapAt = (T: number): number => Math.max(...Array.from(sum, (s, i) => Math.abs(s / T - x[i]!)));
    let gap10 = 0;
    let maxErr = 0;
    for (let t = 1; t <= 200; t++) {
      compressWithFeedback(x, err, out, B);
      decompressInto(out, q, B);
      for (let i = 0; i < L; i++) sum[i]! += q[i]!;
      maxErr = Math.max(maxErr, ...Array.from(err, Math.abs));
      if (t === 10) gap10 = gapAt(10);
    }
    // Σ_t q_t = T·x − e_T exactly (telescoping), so the gap is |e_T|/T.
    for (let i = 0; i < L; i++) expect(Math.abs(sum[i]! - (200 * x[i]! - err[i]!))).toBeLessThan(1e-4);
    expect(gapAt(200)).toBeLessThanOrEqual(maxErr / 200 + 1e-6);
    expect(gapAt(200)).toBeLessThan(gap10 / 5);
    // Without feedback the 1-bit message of a fixed input never gets closer than its first error.
    const plain = new Float32Array(L);
    compressWithFeedback(x, new Float32Array(L), out, B);
    decompressInto(out, plain, B);
    expect(Math.max(...Array.from(plain, (v, i) => Math.abs(v - x[i]!)))).toBeGreaterThan(20 * gapAt(200));
  });
});
