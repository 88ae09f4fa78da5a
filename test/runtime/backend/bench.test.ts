import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { initBackend, measureMatmulGflops } from '../../../src/runtime/backend/index.ts';
import { measureOpUs } from '../../../src/runtime/backend/bench.ts';
import { InputError } from '../../../src/errors.ts';

describe('kernel measurements', () => {
  beforeAll(async () => {
    await initBackend({ force: 'wasm' });
  });

  it('measures a matmul on each backend, then puts the live backend back, leaking no tensors', async () => {
    const before = tf.memory().numTensors;
    for (const backend of ['wasm', 'cpu']) {
      const g = await measureMatmulGflops(backend, 64, 32, 48, { reps: 3, warmup: 1 });
      expect(Number.isFinite(g) && g > 0).toBe(true);
      expect(tf.getBackend()).toBe('wasm');
    }
    const batched = await measureMatmulGflops('wasm', 16, 8, 16, { batch: 4, transposeB: true, reps: 2 });
    expect(batched).toBeGreaterThan(0);
    expect(await measureOpUs('wasm', () => [tf.ones([1])], (x) => tf.add(x!, x!), 10)).toBeGreaterThan(0);
    expect(tf.memory().numTensors).toBe(before);
  });

  it('rejects a bad size or an unknown backend by name', async () => {
    await expect(measureMatmulGflops('wasm', 0, 4, 4)).rejects.toThrow(InputError);
    await expect(measureMatmulGflops('wasm', 4, 2.5, 4)).rejects.toThrow(/k must be a positive integer, got 2.5/);
    await expect(measureMatmulGflops('nope', 4, 4, 4)).rejects.toThrow(/backend 'nope' is not available/);
  });
});
