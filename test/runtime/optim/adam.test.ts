import { describe, expect, it } from 'vitest';
import { Adam, AdamW, createOptimizer, isNormOrBias } from '../../../src/runtime/optim/index.ts';
import { GRADS, N, P, P0, SEGS, expectClose, optimizerBlock, run } from './helpers.ts';

/** float64 Adam/AdamW from the papers' rules (Kingma & Ba; Loshchilov & Hutter), per element. */
function refAdam(p0: readonly number[], gs: readonly number[][], decoupled: boolean, decayOf: (i: number) => number = () => P.weight_decay): number[] {
  const p = [...p0];
  const m = p.map(() => 0);
  const v = p.map(() => 0);
  const [b1, b2] = P.betas;
  gs.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      const wd = decayOf(i);
      const gi = g[i]! + (decoupled ? 0 : wd * p[i]!);
      if (decoupled) p[i]! -= P.lr * wd * p[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      p[i]! -= (P.lr * (m[i]! / (1 - b1 ** t))) / (Math.sqrt(v[i]! / (1 - b2 ** t)) + P.eps);
    }
  });
  return p;
}

describe('Adam / AdamW', () => {
  it('Adam (L2 decay in the gradient) matches a float64 reference over 5 steps', () => {
    expectClose(run(new Adam(P, N), P0, GRADS, SEGS), refAdam(P0, GRADS, false));
  });

  it('AdamW (decoupled decay) matches a float64 reference over 5 steps', () => {
    expectClose(run(new AdamW(P, N), P0, GRADS, SEGS), refAdam(P0, GRADS, true));
  });

  it("matches PyTorch's Adam on a hand-worked example", () => {
    // p = 1, lr 0.1, betas (0.9, 0.999), eps 1e-8, gradients +1 then −1.
    // Step 1: m = 0.1, v = 0.001, m̂ = 1, v̂ = 1            → p = 1 − 0.1·1/(1 + 1e-8)
    // Step 2: m = 0.09 − 0.1 = −0.01, v = 0.000999 + 0.001 = 0.001999,
    //         m̂ = −0.01/0.19, v̂ = 0.001999/0.001999 = 1   → p += 0.1·(0.01/0.19)/(1 + 1e-8)
    const params = { ...P, lr: 0.1, betas: [0.9, 0.999] as const, weight_decay: 0 };
    const p = new Float32Array([1]);
    const adam = new Adam(params, 1);
    adam.step(p, new Float32Array([1]), 0.1, []);
    expect(p[0]).toBeCloseTo(1 - 0.1 / (1 + 1e-8), 6);
    adam.step(p, new Float32Array([-1]), 0.1, []);
    expect(p[0]).toBeCloseTo(1 - 0.1 / (1 + 1e-8) + (0.1 * (0.01 / 0.19)) / (1 + 1e-8), 6);
    expect(adam.state().step).toBe(2);
    expect(adam.state().buffers.exp_avg![0]).toBeCloseTo(-0.01, 7);
    expect(adam.state().buffers.exp_avg_sq![0]).toBeCloseTo(0.001999, 8);
  });

  it('updates only its own range [from, from + numel), with state for that range only', () => {
    const p = Float32Array.from(P0);
    const opt = new AdamW(P, 10, { from: 20 });
    opt.step(p, Float32Array.from(GRADS[0]!), P.lr, SEGS);
    const want = refAdam(P0.slice(20, 30), [GRADS[0]!.slice(20, 30)], true);
    for (let i = 0; i < N; i++) {
      if (i >= 20 && i < 30) expect(p[i]).toBeCloseTo(want[i - 20]!, 6);
      else expect(p[i]).toBe(Math.fround(P0[i]!));
    }
    expect(opt.state().buffers.exp_avg!.length).toBe(10);
  });

  it('two shards step to the same result as one optimizer over the whole buffer (ZeRO shards)', () => {
    const whole = run(new AdamW(P, N), P0, GRADS, SEGS);
    const p = Float32Array.from(P0);
    const a = new AdamW(P, 19, { from: 0 });
    const b = new AdamW(P, N - 19, { from: 19 });
    for (const g of GRADS) {
      const gf = Float32Array.from(g);
      a.step(p, gf, P.lr, SEGS);
      b.step(p, gf, P.lr, SEGS);
    }
    expect(Array.from(p)).toEqual(Array.from(whole));
  });

  it('skips weight decay on excluded parameters', () => {
    const got = run(new AdamW(P, N, { noDecay: isNormOrBias }), P0, GRADS, SEGS);
    expectClose(got, refAdam(P0, GRADS, true, (i) => (i >= 20 ? 0 : P.weight_decay)));
  });

  it('saves and restores its state: a resumed run equals an unbroken one', () => {
    const full = run(new AdamW(P, N), P0, GRADS, SEGS);
    const first = new AdamW(P, N);
    const mid = run(first, P0, GRADS.slice(0, 2), SEGS);
    const s = first.state();
    const resumed = new AdamW(P, N);
    resumed.loadState({ buffers: { exp_avg: s.buffers.exp_avg!.slice(), exp_avg_sq: s.buffers.exp_avg_sq!.slice() }, step: s.step });
    const end = run(resumed, Array.from(mid), GRADS.slice(2), SEGS);
    expect(Array.from(end)).toEqual(Array.from(full));
    expect(() => resumed.loadState({ buffers: { exp_avg: new Float32Array(3), exp_avg_sq: new Float32Array(N) }, step: 1 })).toThrow(/'exp_avg' has 3 elements, this optimizer owns 37/);
  });

  it('maps the config like DeepSpeed: "Adam" decouples decay unless adam_w_mode is false', () => {
    const cfgW = optimizerBlock({ type: 'adam', params: { lr: P.lr, betas: [0.9, 0.99], weight_decay: 0.1 } });
    const cfgL2 = optimizerBlock({ type: 'Adam', params: { lr: P.lr, betas: [0.9, 0.99], weight_decay: 0.1, adam_w_mode: false } });
    expectClose(run(createOptimizer(cfgW, N), P0, GRADS, SEGS), refAdam(P0, GRADS, true));
    expectClose(run(createOptimizer(cfgL2, N), P0, GRADS, SEGS), refAdam(P0, GRADS, false));
  });
});
