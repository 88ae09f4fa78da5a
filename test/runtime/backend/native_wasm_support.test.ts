/**
 * The wasm kernels the native path leans on: GatherV2 on axis 0 as row copies (the embedding
 * lookup) against tfjs-cpu's gather, and Identity sharing its input (autograd's saved clones)
 * with the values, the reference counts and tf.memory() staying right.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../../src/runtime/backend/index.ts';
import { onBackend } from '../../../src/runtime/backend/bench.ts';
import { Rng } from '../../../src/data/rng.ts';
import { fusedLive } from '../../../src/models/fused/index.ts';

await initBackend({ force: 'wasm' });

describe('wasm GatherV2 and Identity', () => {
  it('gather on axis 0 (repeated ids, [B, T] ids) equals tfjs-cpu; other axes still work; an id out of range is refused', async () => {
    const rng = new Rng(4);
    const table = Float32Array.from({ length: 37 * 9 }, () => rng.normal());
    const ids = Int32Array.from({ length: 3 * 11 }, () => rng.int(37));
    ids[5] = ids[6]!;
    const gather = (axis: number): Float32Array => tf.tidy(() => tf.gather(tf.tensor2d(table, [37, 9]), tf.tensor2d(ids.map((i) => (axis === 1 ? i % 9 : i)), [3, 11], 'int32'), axis).dataSync() as Float32Array);
    for (const axis of [0, 1]) {
      const want = await onBackend('cpu', () => gather(axis));
      expect(Array.from(gather(axis)), `axis ${axis}`).toEqual(Array.from(want));
    }
    expect(() => tf.tidy(() => tf.gather(tf.tensor2d(table, [37, 9]), tf.tensor1d([3, 37], 'int32')))).toThrow(/index value 37 is not in \[0, 36\]/);
  });

  it('a clone shares memory yet outlives its source, and frees it when the last one goes', () => {
    const before = tf.memory();
    const beforeIds = tf.backend().numDataIds();
    const a = tf.tensor1d([1, 2, 3]);
    const b = tf.clone(a);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers + 1); // one buffer for both
    expect(tf.backend().numDataIds()).toBe(beforeIds + 1);
    a.dispose();
    expect(Array.from(b.dataSync())).toEqual([1, 2, 3]);
    b.dispose();
    expect(tf.memory().numTensors).toBe(before.numTensors);
    expect(tf.memory().numBytes).toBe(before.numBytes);
    expect(tf.memory().numDataBuffers).toBe(before.numDataBuffers);
    expect(tf.backend().numDataIds()).toBe(beforeIds);
  });
});

describe.skipIf(!fusedLive())('wasm Add on the native pool', () => {
  it('same-shape float32 adds (large: native; small, broadcast, int32: tfjs-wasm) equal tfjs-cpu', async () => {
    const rng = new Rng(6);
    const cases: [number[], number[], 'float32' | 'int32'][] = [[[300, 257], [300, 257], 'float32'], [[5, 7], [5, 7], 'float32'], [[300, 257], [257], 'float32'], [[70000], [70000], 'int32']];
    for (const [sa, sb, dtype] of cases) {
      const n = (s: number[]): number => s.reduce((x, y) => x * y, 1);
      const a = Float32Array.from({ length: n(sa) }, () => (dtype === 'int32' ? rng.int(100) : rng.normal()));
      const b = Float32Array.from({ length: n(sb) }, () => (dtype === 'int32' ? rng.int(100) : rng.normal()));
      const add = (): number[] => tf.tidy(() => Array.from(tf.add(tf.tensor(a, sa, dtype), tf.tensor(b, sb, dtype)).dataSync()));
      expect(add(), `[${sa}] + [${sb}] ${dtype}`).toEqual(await onBackend('cpu', add));
    }
  });
});
