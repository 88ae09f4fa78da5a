import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend } from '../../../src/runtime/backend/index.ts';

/** Runs f on both backends with the same inputs (plain arrays) and returns both outputs. */
async function both(f: () => tf.Tensor): Promise<[Float32Array, Float32Array, number[], number[]]> {
  await tf.setBackend('wasm');
  const w = tf.tidy(f);
  const wv = w.dataSync().slice() as Float32Array;
  const ws = w.shape;
  w.dispose();
  await tf.setBackend('cpu');
  const c = tf.tidy(f);
  const cv = c.dataSync().slice() as Float32Array;
  const cs = c.shape;
  c.dispose();
  await tf.setBackend('wasm');
  return [wv, cv, ws, cs];
}

function rnd(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => ((s = (s * 48271) % 2147483647) / 2147483647) * 2 - 1);
}

const maxDiff = (a: Float32Array, b: Float32Array) => a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i]!)), 0);

describe('wasm kernels against the cpu backend', () => {
  beforeAll(async () => {
    const info = await initBackend({ force: 'wasm' });
    expect(info.name).toBe('wasm');
  });

  it('UnsortedSegmentSum: unordered, repeated, empty and out-of-range segments', async () => {
    const x = rnd(7 * 5, 1);
    const ids = [3, 0, 3, 6, 0, 9, -1]; // segment 1, 2, 4, 5 empty; 9 and -1 dropped
    const [w, c, ws, cs] = await both(() => tf.unsortedSegmentSum(tf.tensor2d(x, [7, 5]), tf.tensor1d(ids, 'int32'), 7));
    expect(ws).toEqual(cs);
    expect(maxDiff(w, c)).toBeLessThan(1e-6);
  });

  it('the gradient of gather (embedding backward)', async () => {
    const table = rnd(11 * 4, 2);
    const ids = [[1, 5, 5], [10, 0, 1]];
    const dy = rnd(2 * 3 * 4, 3);
    const [w, c] = await both(() => tf.grad((t: tf.Tensor) => tf.sum(tf.mul(tf.gather(t, tf.tensor2d(ids, [2, 3], 'int32')), tf.tensor3d(dy, [2, 3, 4]))))(tf.tensor2d(table, [11, 4])));
    expect(maxDiff(w, c)).toBeLessThan(1e-6);
  });

  const cases: [number[], number[], boolean, boolean][] = [
    [[33, 17], [17, 9], false, false],
    [[17, 33], [17, 9], true, false],
    [[33, 17], [9, 17], false, true],
    [[17, 33], [9, 17], true, true],
    [[6, 13, 8], [6, 8, 5], false, false],
    [[2, 3, 8, 13], [2, 3, 5, 8], true, true],
    [[1, 13, 8], [4, 8, 5], false, false], // broadcast batch
  ];
  for (const [sa, sb, ta, tb] of cases) {
    it(`BatchMatMul [${sa}]·[${sb}] transposeA=${ta} transposeB=${tb}`, async () => {
      const a = rnd(sa.reduce((x, y) => x * y, 1), 5);
      const b = rnd(sb.reduce((x, y) => x * y, 1), 6);
      const [w, c, ws, cs] = await both(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb));
      expect(ws).toEqual(cs);
      expect(maxDiff(w, c)).toBeLessThan(1e-5);
    });
  }

  it('leaks no tensors or registrations over repeated batched products', async () => {
    const a = tf.randomNormal([8, 16, 4]);
    const b = tf.randomNormal([8, 4, 16]);
    tf.tidy(() => {
      tf.matMul(a, b, false, false);
    });
    const before = tf.memory().numTensors;
    for (let i = 0; i < 20; i++) tf.tidy(() => {
      tf.matMul(a, b, true, true);
    });
    expect(tf.memory().numTensors).toBe(before);
    tf.dispose([a, b]);
  });
});
