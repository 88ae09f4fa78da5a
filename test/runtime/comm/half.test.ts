/**
 * fp16/bf16 rounding: every representable value round-trips, every midpoint between neighbours
 * goes to the even one, values just off a midpoint go to the nearer one — which together define
 * round-to-nearest-even. Then the wire: all-reduce over fp16/bf16 stays within its error bound.
 */
import { describe, expect, it } from 'vitest';
import { f32BitsToBf16, f32BitsToF16 } from '../../../src/runtime/comm/index.ts';
import { f16DecodeTable } from '../../../src/runtime/comm/half.ts';
import { destroyAll, makeWorld, randomArray, reference, sameBytes } from './helpers.ts';

const f32 = new Float32Array(1);
const u32 = new Uint32Array(f32.buffer);
const bitsOf = (x: number): number => {
  f32[0] = x;
  return u32[0]!;
};
const bf16Value = (h: number): number => {
  u32[0] = h << 16;
  return f32[0]!;
};

function checkFormat(name: string, toHalf: (bits: number) => number, value: (h: number) => number, maxFinite: number): void {
  it(`${name}: all finite values round-trip; midpoints tie to even; neighbours of midpoints round to nearest`, () => {
    // Collected, then asserted once: 400k expect() calls would take seconds.
    const wrong: string[] = [];
    const want = (got: number, exp: number, what: string): void => {
      if (got !== exp && wrong.length < 10) wrong.push(`${what}: got 0x${got.toString(16)}, want 0x${exp.toString(16)}`);
    };
    for (let h = 0; h < 0x10000; h++) {
      const v = value(h);
      if (Number.isNaN(v)) {
        if (!Number.isNaN(value(toHalf(bitsOf(v))))) wrong.push(`NaN 0x${h.toString(16)} lost`);
        continue;
      }
      want(toHalf(bitsOf(v)), h, `round trip of ${v}`);
      if ((h & 0x7fff) >= maxFinite) continue;
      const next = value(h + 1);
      const mid = (v + next) / 2; // exact in float32: one more bit than the half format
      const midBits = bitsOf(mid);
      want(toHalf(midBits), (h & 1) === 0 ? h : h + 1, `midpoint ${mid}`);
      const towardNext = Math.abs(next) > Math.abs(v) ? 1 : -1;
      want(toHalf(midBits + towardNext), h + 1, `just past ${mid}`);
      want(toHalf(midBits - towardNext), h, `just before ${mid}`);
    }
    expect(wrong).toEqual([]);
  });
}

describe('half conversion', () => {
  const t = f16DecodeTable();
  checkFormat('fp16', f32BitsToF16, (h) => t[h]!, 0x7bff);
  checkFormat('bf16', f32BitsToBf16, bf16Value, 0x7f7f);

  it('fp16 overflows to Inf at the rounding boundary, and 2^-25 ties to zero', () => {
    expect(t[f32BitsToF16(bitsOf(65519))]).toBe(65504);
    expect(t[f32BitsToF16(bitsOf(65520))]).toBe(Infinity);
    expect(t[f32BitsToF16(bitsOf(-1e9))]).toBe(-Infinity);
    expect(f32BitsToF16(bitsOf(2 ** -25))).toBe(0);
    expect(f32BitsToF16(bitsOf(2 ** -25 * 1.0001))).toBe(1);
  });
});

describe.each([
  ['fp16', 2 ** -11],
  ['bf16', 2 ** -8],
] as const)('all-reduce over a %s wire', (dtype, unitRoundoff) => {
  it('stays within the rounding bound and is bit-identical on every rank', async () => {
    const W = 4;
    const pgs = await makeWorld(W, { chunkBytes: 256 });
    try {
      const inputs = pgs.map((_, r) => randomArray(1003, 3 + r));
      const bufs = inputs.map((x) => x.slice());
      await Promise.all(pgs.map((pg, r) => pg.allReduce(bufs[r]!, { wireDtype: dtype })));
      const want = reference(inputs, 'sum');
      let worst = 0;
      for (let i = 0; i < want.length; i++) {
        let absSum = 0;
        for (const x of inputs) absSum += Math.abs(x[i]!);
        // W-1 partial sums and the result are each rounded once: relative u per rounding.
        const bound = W * unitRoundoff * absSum + 1e-6;
        worst = Math.max(worst, Math.abs(bufs[0]![i]! - want[i]!) / bound);
      }
      expect(worst).toBeLessThanOrEqual(1);
      expect(worst).toBeGreaterThan(0); // the wire really was narrower than float32
      for (const b of bufs) expect(sameBytes(b, bufs[0]!)).toBe(true);
    } finally {
      await destroyAll(pgs);
    }
  });
});
