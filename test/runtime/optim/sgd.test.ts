import { describe, it } from 'vitest';
import { Sgd, createOptimizer } from '../../../src/runtime/optim/index.ts';
import { GRADS, N, P, P0, SEGS, expectClose, optimizerBlock, run } from './helpers.ts';

/** float64 torch.optim.SGD: L2 decay, momentum buffer (the first is the gradient), dampening, nesterov. */
function refSgd(p0: readonly number[], gs: readonly number[][], o: { mu: number; damp: number; nesterov: boolean; wd: number; lr: number }): number[] {
  const p = [...p0];
  const buf = p.map(() => 0);
  gs.forEach((g, k) => {
    for (let i = 0; i < p.length; i++) {
      let gi = g[i]! + o.wd * p[i]!;
      if (o.mu !== 0) {
        buf[i] = k === 0 ? gi : o.mu * buf[i]! + (1 - o.damp) * gi;
        gi = o.nesterov ? gi + o.mu * buf[i]! : buf[i]!;
      }
      p[i]! -= o.lr * gi;
    }
  });
  return p;
}

describe('SGD', () => {
  it('momentum, dampening, nesterov and plain SGD match float64 references over 5 steps', () => {
    const cases = [
      { mu: 0.9, damp: 0, nesterov: false, wd: 0.1 },
      { mu: 0.9, damp: 0.5, nesterov: false, wd: 0 },
      { mu: 0.8, damp: 0, nesterov: true, wd: 0.01 },
      { mu: 0, damp: 0, nesterov: false, wd: 0.1 },
    ];
    for (const c of cases) {
      const params = { ...P, momentum: c.mu, dampening: c.damp, nesterov: c.nesterov, weight_decay: c.wd };
      expectClose(run(new Sgd(params, N), P0, GRADS, SEGS), refSgd(P0, GRADS, { ...c, lr: P.lr }));
    }
  });

  it('is built from an "sgd" config block', () => {
    const block = optimizerBlock({ type: 'sgd', params: { lr: 0.05, momentum: 0.9, nesterov: true } });
    expectClose(run(createOptimizer(block, N), P0, GRADS, SEGS, 0.05), refSgd(P0, GRADS, { mu: 0.9, damp: 0, nesterov: true, wd: 0, lr: 0.05 }));
  });
});
