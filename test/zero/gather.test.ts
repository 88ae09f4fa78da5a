/**
 * Evaluation under ZeRO-3: engine.gatherParams() all-gathers the shards on every rank, so
 * evalLoss, generate and the profiler read the whole model: the same numbers as stage 0 after
 * the same training.
 */
import { describe, expect, it } from 'vitest';
import { batchStream, closeAll, startRanks, trainAll, zeroConfig } from './helpers.ts';

describe('ZeRO-3 gatherParams', () => {
  it('gives every rank the stage-0 model: evalLoss and greedy tokens equal, and the profiler runs', async () => {
    const z0 = await startRanks(2, zeroConfig(2, 1, { stage: 0 }));
    const z3 = await startRanks(2, zeroConfig(2, 1, { stage: 3, stage3_param_persistence_threshold: 0 }));
    try {
      await trainAll(z0, 3);
      await trainAll(z3, 3);
      const mb = batchStream(z0[0]!, 5)();
      const want = z0[0]!.engine.evalLoss(mb);
      const wantTokens = z0[0]!.engine.generate([[1, 5, 6]], 4, null);
      expect(() => z3[0]!.engine.evalLoss(mb)).toThrow(/gatherParams/);
      await Promise.all(z3.map((rt) => rt.engine.gatherParams()));
      for (const rt of z3) {
        expect(Math.abs(rt.engine.evalLoss(mb) - want) / want).toBeLessThan(1e-5);
        expect(rt.engine.generate([[1, 5, 6]], 4, null)).toEqual(wantTokens);
        rt.engine.releaseParams();
      }
      const prof = await Promise.all(z3.map((rt) => rt.engine.profileLastBatch()));
      expect(prof[0]!.layers.reduce((n, l) => n + l.params, 0)).toBe(z3[0]!.engine.flat.numel);
      // The next step trains on the shards again.
      await trainAll(z3, 1);
    } finally {
      await closeAll([...z0, ...z3]);
    }
  }, 90_000);
});
