/**
 * DeepSpeed's overflow rule, the same in every stage: a gradient whose global norm is not finite
 * skips the optimizer step (StepResult.overflow), and parameters and optimizer state stay as
 * they were: an infinite gradient never becomes NaN weights.
 */
import { describe, expect, it } from 'vitest';
import { closeAll, startRanks, trainAll, zeroConfig } from './helpers.ts';
import type { TrainingRuntime } from '../../src/runtime/initialize.ts';
import { consolidateCheckpoint } from '../../src/runtime/checkpoint/index.ts';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

/** The full state of every rank, through a checkpoint (it works for sharded stages too). */
async function fullState(rts: TrainingRuntime[]): Promise<{ params: Float32Array; m: Float32Array; step: number }> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ds-overflow-'));
  await Promise.all(rts.map((rt) => rt.engine.saveCheckpoint(dir, 'probe')));
  const s = await consolidateCheckpoint(dir, 'probe');
  fs.rmSync(dir, { recursive: true });
  return { params: s.params.slice(), m: s.optimizer.exp_avg!.slice(), step: s.optimizerStep };
}

describe('a non-finite gradient norm skips the step', () => {
  for (const stage of [0, 1, 2, 3]) {
    it(`stage ${stage}, 2 ranks`, async () => {
      const rts = await startRanks(2, zeroConfig(2, 1, { stage, stage3_param_persistence_threshold: 0 }));
      try {
        await trainAll(rts, 2);
        const before = await fullState(rts);
        // One rank's batch gives an infinite loss: its gradient is Inf/NaN, and the sum with it.
        const batches = rts.map((rt) => {
          const B = rt.config.train_micro_batch_size_per_gpu;
          const T = 8;
          const mask = new Float32Array(B * T).fill(1);
          if (rt.dist.rank === 1) mask[0] = Infinity;
          return () => ({ batchSize: B, seqLen: T, input: new Int32Array(B * T).fill(3), target: new Int32Array(B * T).fill(4), mask });
        });
        const rs = await Promise.all(rts.map((rt, k) => rt.engine.trainBatch(batches[k]!)));
        for (const r of rs) {
          expect(r.overflow).toBe(true);
          expect(Number.isFinite(r.gradNorm)).toBe(false);
        }
        const after = await fullState(rts);
        expect(after.params).toEqual(before.params);
        expect(after.m).toEqual(before.m);
        expect(after.step).toBe(before.step);
        // The next finite step goes through.
        const next = await trainAll(rts, 1);
        expect(next[0]!.overflow).toBe(false);
        expect((await fullState(rts)).params.every(Number.isFinite)).toBe(true);
      } finally {
        await closeAll(rts);
      }
    }, 60_000);
  }
});
