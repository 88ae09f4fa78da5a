import { describe, expect, it } from 'vitest';
import { Adam, Lamb, Sgd, createScheduler, type OptimizerParams } from '../../../src/runtime/optim/index.ts';
import type { ParamSegment } from '../../../src/runtime/engine/flat_params.ts';

const P: OptimizerParams = { lr: 1e-2, betas: [0.9, 0.99], eps: 1e-8, weight_decay: 0.1, bias_correction: true, momentum: 0.9, nesterov: false, dampening: 0, max_coeff: 10, min_coeff: 0.01 };

function rand(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => ((s = (s * 16807) % 2147483647) / 2147483647) * 2 - 1);
}

/** float64 references written from the papers' update rules. */
function refAdam(p: number[], gs: number[][], lr: number, decoupled: boolean): number[] {
  const m = p.map(() => 0), v = p.map(() => 0);
  const [b1, b2] = P.betas;
  gs.forEach((g, k) => {
    const t = k + 1;
    for (let i = 0; i < p.length; i++) {
      const gi = g[i]! + (decoupled ? 0 : P.weight_decay * p[i]!);
      if (decoupled) p[i]! -= lr * P.weight_decay * p[i]!;
      m[i] = b1 * m[i]! + (1 - b1) * gi;
      v[i] = b2 * v[i]! + (1 - b2) * gi * gi;
      p[i]! -= (lr * (m[i]! / (1 - b1 ** t))) / (Math.sqrt(v[i]! / (1 - b2 ** t)) + P.eps);
    }
  });
  return p;
}

function run(opt: { step(p: Float32Array, g: Float32Array, lr: number, s: readonly ParamSegment[]): void }, p0: number[], gs: number[][], segs: ParamSegment[], lr = P.lr) {
  const p = Float32Array.from(p0);
  for (const g of gs) opt.step(p, Float32Array.from(g), lr, segs);
  return p;
}

const n = 37;
const p0 = rand(n, 3);
const gs = [1, 2, 3, 4, 5].map((k) => rand(n, 100 + k));
const segs: ParamSegment[] = [
  { name: 'a', shape: [20], offset: 0, numel: 20, init: { kind: 'zeros' }, tpDim: null },
  { name: 'b', shape: [17], offset: 20, numel: 17, init: { kind: 'zeros' }, tpDim: null },
];

describe('flat optimizers', () => {
  it('Adam (L2) and AdamW (decoupled) match float64 references', () => {
    for (const decoupled of [false, true]) {
      const got = run(new Adam(P, decoupled, n), p0, gs, segs);
      const want = refAdam([...p0], gs, P.lr, decoupled);
      want.forEach((w, i) => expect(got[i]!).toBeCloseTo(w, 5));
    }
  });

  it('updates only its own range [from, from + numel)', () => {
    const p = Float32Array.from(p0);
    new Adam(P, true, 10, 20).step(p, Float32Array.from(gs[0]!), P.lr);
    for (let i = 0; i < n; i++) (i >= 20 && i < 30 ? expect(p[i]).not.toBe(Math.fround(p0[i]!)) : expect(p[i]).toBe(Math.fround(p0[i]!)));
  });

  it('SGD with momentum matches the PyTorch rule', () => {
    const got = run(new Sgd(P, n), p0, gs, segs);
    const p = [...p0];
    const buf = p.map(() => 0);
    gs.forEach((g, k) => {
      for (let i = 0; i < n; i++) {
        const gi = g[i]! + P.weight_decay * p[i]!;
        buf[i] = k === 0 ? gi : P.momentum * buf[i]! + gi;
        p[i]! -= P.lr * buf[i]!;
      }
    });
    p.forEach((w, i) => expect(got[i]!).toBeCloseTo(w, 5));
  });

  it('Lamb applies a per-parameter trust ratio', () => {
    const got = run(new Lamb(P, n), p0, gs.slice(0, 1), segs);
    const [b1, b2] = P.betas;
    for (const s of segs) {
      const idx = Array.from({ length: s.numel }, (_, k) => s.offset + k);
      const u = idx.map((i) => ((1 - b1) * gs[0]![i]!) / (1 - b1) / (Math.sqrt(((1 - b2) * gs[0]![i]! ** 2) / (1 - b2)) + P.eps) + P.weight_decay * p0[i]!);
      const pn = Math.hypot(...idx.map((i) => p0[i]!));
      const un = Math.hypot(...u);
      const r = Math.min(P.max_coeff, Math.max(P.min_coeff, pn / un));
      idx.forEach((i, k) => expect(got[i]!).toBeCloseTo(p0[i]! - P.lr * r * u[k]!, 5));
    }
  });
});

describe('lr schedulers (DeepSpeed formulas)', () => {
  it('WarmupLR: log warm-up then constant', () => {
    const s = createScheduler({ type: 'WarmupLR', params: { warmup_min_lr: 0, warmup_max_lr: 0.01, warmup_num_steps: 100 } }, 1);
    expect(s.lrAt(0)).toBe(0);
    expect(s.lrAt(9)).toBeCloseTo((0.01 * Math.log(10)) / Math.log(100), 12);
    expect(s.lrAt(100)).toBe(0.01);
    expect(s.lrAt(5000)).toBe(0.01);
  });
  it('WarmupDecayLR: linear decay to 0 at total_num_steps', () => {
    const s = createScheduler({ type: 'WarmupDecayLR', params: { warmup_max_lr: 0.1, warmup_num_steps: 10, warmup_type: 'linear', total_num_steps: 110 } }, 1);
    expect(s.lrAt(5)).toBeCloseTo(0.05, 12);
    expect(s.lrAt(60)).toBeCloseTo(0.05, 12);
    expect(s.lrAt(110)).toBe(0);
  });
  it('WarmupCosineLR: ratios of the optimizer lr', () => {
    const s = createScheduler({ type: 'WarmupCosineLR', params: { warmup_num_steps: 10, warmup_type: 'linear', total_num_steps: 110, cos_min_ratio: 0.1 } }, 0.5);
    expect(s.lrAt(5)).toBeCloseTo(0.25, 12);
    expect(s.lrAt(59)).toBeCloseTo(0.5 * (0.1 + 0.9 * 0.5), 12);
    expect(s.lrAt(109)).toBeCloseTo(0.05, 12);
  });
  it('OneCycle: up, down, then decay', () => {
    const s = createScheduler({ type: 'OneCycle', params: { cycle_min_lr: 0.1, cycle_max_lr: 1, cycle_first_step_size: 10, decay_lr_rate: 1, decay_step_size: 5 } }, 1);
    expect(s.lrAt(0)).toBeCloseTo(0.1, 12);
    expect(s.lrAt(10)).toBeCloseTo(1, 12);
    expect(s.lrAt(15)).toBeCloseTo(0.55, 12);
    expect(s.lrAt(30)).toBeCloseTo(0.1 / 3, 12);
  });
});
