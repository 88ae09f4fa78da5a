import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../../src/runtime/backend/index.ts';
import { InputError } from '../../../src/errors.ts';

function rnd(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => ((s = (s * 48271) % 2147483647) / 2147483647) * 2 - 1);
}
const maxDiff = (a: ArrayLike<number>, b: ArrayLike<number>) => Array.from(a).reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

/**
 * An independent einsum: each operand transposed and reshaped onto all labels (1 where it lacks
 * one), a broadcast product, a sum over the labels the output lacks. Built from ops tfjs can
 * differentiate, so its gradient is the reference for Einsum's.
 */
function einsumRef(equation: string, ...xs: tf.Tensor[]): tf.Tensor {
  const [lhs, out] = equation.split('->') as [string, string];
  const terms = lhs.split(',');
  const sizes = new Map<string, number>();
  terms.forEach((t, i) => [...t].forEach((l, ax) => sizes.set(l, xs[i]!.shape[ax]!)));
  const all = out + [...new Set(lhs.replace(',', ''))].filter((l) => !out.includes(l)).join('');
  let prod: tf.Tensor = tf.scalar(1);
  terms.forEach((t, i) => {
    const order = [...all].filter((l) => t.includes(l));
    const moved = tf.transpose(xs[i]!, order.map((l) => t.indexOf(l)));
    prod = tf.mul(prod, tf.reshape(moved, [...all].map((l) => (t.includes(l) ? sizes.get(l)! : 1))));
  });
  const summed = [...all].map((_, ax) => ax).slice(out.length);
  return summed.length ? tf.sum(prod, summed) : tf.reshape(prod, [...out].map((l) => sizes.get(l)!));
}

const CASES: [string, number[][]][] = [
  ['ij,jk->ik', [[5, 3], [3, 4]]],
  ['ij,kj->ik', [[5, 3], [4, 3]]],
  ['bij,bjk->bik', [[2, 5, 3], [2, 3, 4]]],
  ['bhtd,bhsd->bhts', [[2, 3, 4, 5], [2, 3, 6, 5]]], // attention scores
  ['bhts,bhsd->bthd', [[2, 3, 4, 6], [2, 3, 6, 5]]], // scores · V, output permuted
  ['btd,fd->btf', [[2, 4, 6], [7, 6]]], // x · Wᵀ
  ['ij->ji', [[3, 4]]],
  ['ij->ij', [[3, 4]]],
  ['ijk->k', [[2, 3, 4]]],
  ['ijk->', [[2, 3, 4]]],
  ['i,j->ij', [[3], [4]]],
  ['ij,j->i', [[3, 4], [4]]],
  ['ijk,k->i', [[2, 3, 4], [4]]], // j only in the first operand: summed before the product
  ['ab,cd->ad', [[2, 3], [4, 5]]],
  ['ij,ij->ij', [[3, 4], [3, 4]]],
  ['ij,ij->', [[3, 4], [3, 4]]],
];

describe('Einsum on wasm against an einsum built from differentiable ops on cpu', () => {
  beforeAll(async () => {
    expect((await initBackend({ force: 'wasm' })).name).toBe('wasm');
  });

  for (const [eq, shapes] of CASES) {
    it(`${eq} ${shapes.map((s) => `[${s}]`).join(' ')}: value and gradient`, async () => {
      const data = shapes.map((s, i) => rnd(s.reduce((a, b) => a * b, 1), 11 + i));
      const run = (f: (eq: string, ...x: tf.Tensor[]) => tf.Tensor) => {
        const xs = data.map((d, i) => tf.tensor(d, shapes[i]!));
        const y = f(eq, ...xs);
        const w = tf.tensor(rnd(y.size, 7), y.shape);
        const grads = tf.grads((...a: tf.Tensor[]) => tf.sum(tf.mul(f(eq, ...a), w)))(xs);
        const out = [y, ...grads].map((t) => ({ shape: t.shape, v: t.dataSync().slice() }));
        tf.dispose([...xs, y, w, ...grads]);
        return out;
      };
      const before = tf.memory().numTensors;
      const wasm = run((e, ...x) => tf.einsum(e, ...x));
      expect(tf.memory().numTensors).toBe(before);
      await tf.setBackend('cpu');
      const ref = run(einsumRef);
      await tf.setBackend('wasm');
      expect(wasm.map((o) => o.shape)).toEqual(ref.map((o) => o.shape));
      wasm.forEach((o, i) => expect(maxDiff(o.v, ref[i]!.v)).toBeLessThan(1e-5));
    });
  }

  it('the gradient also runs on cpu (tfjs-core has none for Einsum)', async () => {
    await tf.setBackend('cpu');
    const g = tf.grad((a: tf.Tensor) => tf.sum(tf.einsum('ij,jk->ik', a, tf.ones([3, 2]))))(tf.ones([2, 3]));
    expect(Array.from(g.dataSync())).toEqual([2, 2, 2, 2, 2, 2]);
    await tf.setBackend('wasm');
  });

  it('names the operands and sizes of a bad equation', () => {
    const a = tf.ones([2, 3]);
    const b = tf.ones([4, 5]);
    expect(() => tf.einsum('ij,jk->ik', a, b)).toThrow(/label 'j' is 3 in one place and 4 at axis 0 of operand 1/);
    expect(() => tf.einsum('ij,jk->ik', a, b)).toThrow(InputError);
    tf.dispose([a, b]);
  });
});
