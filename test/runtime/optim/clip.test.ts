import { describe, expect, it } from 'vitest';
import { clipByGlobalNorm, clipFactor, scaleInPlace, sumSquares } from '../../../src/runtime/optim/index.ts';
import { rand } from './helpers.ts';

describe('gradient clipping', () => {
  const g = rand(1000, 7);
  const norm = Math.sqrt(g.reduce((s, x) => s + Math.fround(x) ** 2, 0));

  it('clips to max_norm and returns the norm before', () => {
    const buf = Float32Array.from(g);
    expect(clipByGlobalNorm(buf, 1.0)).toBeCloseTo(norm, 9);
    expect(Math.sqrt(sumSquares(buf))).toBeCloseTo(norm * (1 / (norm + 1e-6)), 6);
    buf.forEach((x, i) => expect(x).toBeCloseTo((Math.fround(g[i]!) * 1) / (norm + 1e-6), 7));
  });

  it('leaves gradients alone below max_norm and when off (0)', () => {
    for (const max of [0, norm * 2]) {
      const buf = Float32Array.from(g);
      clipByGlobalNorm(buf, max);
      expect(Array.from(buf)).toEqual(Array.from(Float32Array.from(g)));
    }
  });

  it('composes across ranks: partial sums of squares add to the global one', () => {
    // Two "ranks" hold halves; the engine all-reduces their sums, then both scale by one factor.
    const buf = Float32Array.from(g);
    const total = sumSquares(buf, 0, 400) + sumSquares(buf, 400, 1000);
    expect(total).toBeCloseTo(sumSquares(buf), 9);
    const f = clipFactor(Math.sqrt(total), 2);
    scaleInPlace(buf, f, 0, 400);
    scaleInPlace(buf, f, 400, 1000);
    const whole = Float32Array.from(g);
    clipByGlobalNorm(whole, 2);
    expect(Array.from(buf)).toEqual(Array.from(whole));
  });
});
