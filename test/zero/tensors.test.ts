/** STYLE habit 6: no stage leaks tensors across steps (ZeRO-3 makes and frees a layer's parameters per phase). */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { closeAll, startRanks, trainAll, zeroConfig } from './helpers.ts';

describe('tf.memory().numTensors does not grow across steps', () => {
  for (const stage of [0, 1, 2, 3]) {
    it(`stage ${stage}, 2 ranks, accumulation 2`, async () => {
      const rts = await startRanks(2, zeroConfig(2, 2, { stage, stage3_param_persistence_threshold: 20, ...(stage >= 2 ? { overlap_comm: true, reduce_bucket_size: 200 } : {}) }));
      try {
        await trainAll(rts, 1);
        const before = tf.memory().numTensors;
        await trainAll(rts, 3, 1);
        expect(tf.memory().numTensors).toBe(before);
      } finally {
        await closeAll(rts);
      }
    }, 60_000);
  }
});
