import { describe, expect, it } from 'vitest';
import { Lamb, createOptimizer } from '../../../src/runtime/optim/index.ts';
import { GRADS, N, P, P0, SEGS, expectClose, optimizerBlock, run } from './helpers.ts';

/** float64 LAMB per parameter (DeepSpeed FusedLamb: bias-corrected moments, ε outside √, trust ratio clamped). */
function refLamb(p0: readonly number[], gs: readonly number[][], prm: typeof P, segs: typeof SEGS): { p: number[]; ratios: number[] } {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const [b1, b2] = prm.betas;
  let ratios: number[] = [];
  gs.forEach((g, k) => {
    const t = k + 1;
    ratios = segs.map((s) => {
      const idx = Array.from({ length: s.numel }, (_, q) => s.offset + q);
      const u = idx.map((i) => {
        m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
        v[i] = b2 * v[i]! + (1 - b2) * g[i]! ** 2;
        return m[i]! / (1 - b1 ** t) / (Math.sqrt(v[i]! / (1 - b2 ** t)) + prm.eps) + prm.weight_decay * p[i]!;
      });
      const wn = Math.hypot(...idx.map((i) => p[i]!));
      const un = Math.hypot(...u);
      const r = wn > 0 && un > 0 ? Math.min(prm.max_coeff, Math.max(prm.min_coeff, wn / un)) : 1;
      idx.forEach((i, q) => (p[i]! -= prm.lr * r * u[q]!));
      return r;
    });
  });
  return { p, ratios };
}

describe('Lamb', () => {
  it('matches a float64 reference over 5 steps, with one trust ratio per parameter', () => {
    const lamb = new Lamb(P, N);
    const got = run(lamb, P0, GRADS, SEGS);
    const want = refLamb(P0, GRADS, P, SEGS);
    expectClose(got, want.p);
    want.ratios.forEach((r, k) => expect(lamb.lastTrustRatios[k]).toBeCloseTo(r, 5));
    // Different parameters get different ratios: the per-parameter rule is in effect.
    expect(Math.abs(want.ratios[0]! - want.ratios[1]!)).toBeGreaterThan(1e-3);
  });

  it('clamps the trust ratio to [min_coeff, max_coeff]', () => {
    const tight = { ...P, max_coeff: 0.3, min_coeff: 0.2 };
    const lamb = new Lamb(tight, N);
    const got = run(lamb, P0, GRADS.slice(0, 1), SEGS);
    const want = refLamb(P0, GRADS.slice(0, 1), tight, SEGS);
    expectClose(got, want.p);
    for (const r of lamb.lastTrustRatios) expect(r === 0.3 || r === 0.2).toBe(true);
  });

  it('uses ratio 1 for an all-zero parameter (‖p‖ = 0), as DeepSpeed', () => {
    const p0 = new Array<number>(N).fill(0);
    const lamb = new Lamb({ ...P, weight_decay: 0 }, N);
    run(lamb, p0, GRADS.slice(0, 1), SEGS);
    expect(lamb.lastTrustRatios).toEqual([1, 1]);
  });

  it('is built from a "lamb" config block', () => {
    const block = optimizerBlock({ type: 'LAMB', params: { lr: P.lr, betas: [0.9, 0.99], weight_decay: 0.1, max_coeff: 10, min_coeff: 0.01 } });
    expectClose(run(createOptimizer(block, N), P0, GRADS, SEGS), refLamb(P0, GRADS, P, SEGS).p);
  });
});
