/**
 * Bytes each rank sends per step (StepResult.commBytes, the group's counters), against ZeRO's
 * accounting with Ψ float32 parameters and Nd = 2: stage 0's all-reduce moves 2·(Nd−1)/Nd·4Ψ,
 * stages 1-2 a reduce-scatter plus an all-gather (the same), stage 3 an all-gather in forward,
 * another in backward and a reduce-scatter: 3·(Nd−1)/Nd·4Ψ, 1.5× stage 0. Frame headers and the
 * scalar sums come on top (bounded by 10% here).
 */
import { describe, expect, it } from 'vitest';
import { closeAll, startRanks, trainAll, zeroConfig } from './helpers.ts';

async function bytesPerStep(stage: number): Promise<{ sent: number; psi: number }> {
  const rts = await startRanks(2, zeroConfig(2, 1, { stage, stage3_param_persistence_threshold: 0 }));
  try {
    await trainAll(rts, 1);
    const r = await trainAll(rts, 2, 1);
    return { sent: r[1]!.commBytes, psi: rts[0]!.engine.flat.numel };
  } finally {
    await closeAll(rts);
  }
}

describe('communication per step, 2 ranks', () => {
  it('stage 0-2: 2·(Nd−1)/Nd·4Ψ; stage 3: 1.5× that', async () => {
    for (const [stage, factor] of [[0, 2], [1, 2], [2, 2], [3, 3]] as const) {
      const { sent, psi } = await bytesPerStep(stage);
      const want = factor * 0.5 * 4 * psi;
      expect(sent).toBeGreaterThanOrEqual(want);
      expect(sent).toBeLessThan(1.1 * want);
    }
  }, 60_000);
});
