import { describe, expect, it } from 'vitest';
import { hash32, Rng } from '../../src/data/rng.ts';

describe('Rng', () => {
  it('is reproducible per seed and differs across seeds', () => {
    const a = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(1)));
    const b = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(1)));
    const c = Array.from({ length: 5 }, ((r) => () => r.nextU32())(new Rng(2)));
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
  });

  it('draws uniform integers: chi-square over 10 bins stays small', () => {
    const r = new Rng(42);
    const bins = new Array<number>(10).fill(0);
    const n = 100_000;
    for (let i = 0; i < n; i++) bins[r.int(10)]!++;
    const chi2 = bins.reduce((s, o) => s + (o - n / 10) ** 2 / (n / 10), 0);
    expect(chi2).toBeLessThan(27.9); // p = 0.001 for 9 degrees of freedom
    const f = r.next();
    expect(f).toBeGreaterThanOrEqual(0);
    expect(f).toBeLessThan(1);
  });

  it('permutes: every value once', () => {
    const p = [...new Rng(3).permutation(1000)].sort((x, y) => x - y);
    expect(p).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('hashes to spread uint32 values', () => {
    const hs = new Set(Array.from({ length: 1000 }, (_, i) => hash32(i, 5)));
    expect(hs.size).toBe(1000);
    expect(hash32(1, 2)).not.toBe(hash32(2, 1));
  });
});
