/** OneBitAdam's arithmetic on one rank: warm-up is AdamW bit for bit; after freeze_step, Adam with the variance frozen (float64 reference). */
import { describe, expect, it } from 'vitest';
import { OneBitAdam } from '../../../src/compress/onebit/index.ts';
import { AdamW } from '../../../src/runtime/optim/index.ts';
import { GRADS, N, P, P0, SEGS } from '../../runtime/optim/helpers.ts';

const F = 3;
const params = { lr: P.lr, betas: P.betas, eps: P.eps, weight_decay: P.weight_decay, bias_correction: true, freeze_step: F };

describe('OneBitAdam', () => {
  it('warm-up steps are AdamW steps, to the bit, and the phase turns at freeze_step', () => {
    const a = Float32Array.from(P0);
    const b = Float32Array.from(P0);
    const onebit = new OneBitAdam(params, N);
    const adamw = new AdamW(P, N);
    for (let k = 0; k < F; k++) {
      expect(onebit.frozen).toBe(false);
      onebit.step(a, Float32Array.from(GRADS[k]!), P.lr, SEGS);
      adamw.step(b, Float32Array.from(GRADS[k]!), P.lr, SEGS);
    }
    expect(Buffer.from(a.buffer).equals(Buffer.from(b.buffer))).toBe(true);
    expect(onebit.frozen).toBe(true);
    expect(() => onebit.step(a, Float32Array.from(GRADS[3]!), P.lr, SEGS)).toThrow(/past freeze_step 3/);
  });

  it('compressed steps keep v and its bias correction from step freeze_step (float64 reference)', () => {
    const p = Float32Array.from(P0);
    const opt = new OneBitAdam(params, N);
    const [b1, b2] = P.betas;
    const ref = [...P0];
    const m = ref.map(() => 0);
    const v = ref.map(() => 0);
    GRADS.forEach((g, k) => {
      const t = k + 1;
      const frozen = t > F;
      for (let i = 0; i < N; i++) {
        ref[i]! -= P.lr * P.weight_decay * ref[i]!;
        m[i] = b1 * m[i]! + (1 - b1) * g[i]!;
        if (!frozen) v[i] = b2 * v[i]! + (1 - b2) * g[i]! ** 2;
        const c2 = 1 - b2 ** Math.min(t, F);
        ref[i]! -= (P.lr * (m[i]! / (1 - b1 ** t))) / (Math.sqrt(v[i]! / c2) + P.eps);
      }
      const grads = Float32Array.from(g);
      if (!frozen) opt.step(p, grads, P.lr, SEGS);
      else {
        opt.momentumStep(grads, 1); // one rank: the momentum is already the mean
        opt.applyFrozen(p, P.lr, SEGS);
      }
    });
    for (let i = 0; i < N; i++) expect(p[i]).toBeCloseTo(ref[i]!, 6);
    expect(opt.state().step).toBe(GRADS.length);
    // The saved variance is the one frozen at step F.
    const opt2 = new OneBitAdam(params, N);
    const q = Float32Array.from(P0);
    for (let k = 0; k < F; k++) opt2.step(q, Float32Array.from(GRADS[k]!), P.lr, SEGS);
    expect(Array.from(opt.state().buffers.exp_avg_sq!)).toEqual(Array.from(opt2.state().buffers.exp_avg_sq!));
  });

  it('the scaled momentum m/(√v̂+ε) round-trips, and is masked to 0 where warm-up never saw a gradient', () => {
    const p = Float32Array.from(P0);
    const opt = new OneBitAdam(params, N);
    const gradsAt = (k: number, dead: boolean) => {
      const g = Float32Array.from(GRADS[k]!);
      if (dead) g[0] = 0;
      return g;
    };
    for (let k = 0; k < F; k++) opt.step(p, gradsAt(k, true), P.lr, SEGS);
    expect(opt.state().buffers.exp_avg_sq![0]).toBe(0);
    opt.momentumStep(gradsAt(F, false), 1);
    const m = Float32Array.from(opt.momentum);
    expect(m[0]).not.toBe(0);
    const u = new Float32Array(N);
    opt.scaledMomentum(u);
    expect(u[0]).toBe(0);
    const v = opt.state().buffers.exp_avg_sq!;
    const c2 = Math.sqrt(1 - P.betas[1] ** F);
    for (let i = 1; i < N; i++) expect(u[i]).toBeCloseTo(m[i]! / (Math.sqrt(v[i]!) / c2 + P.eps), 4);
    opt.setScaledMomentum(u);
    expect(opt.momentum[0]).toBe(0);
    for (let i = 1; i < N; i++) expect(Math.abs(opt.momentum[i]! - m[i]!)).toBeLessThanOrEqual(1e-6 * Math.abs(m[i]!));
    const before = p[0]!;
    opt.applyFrozen(p, P.lr, SEGS);
    // Only the decoupled weight decay moves the masked element.
    expect(p[0]).toBeCloseTo(before * (1 - P.lr * P.weight_decay), 7);
  });
});
