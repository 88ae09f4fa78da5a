/**
 * Gradient clipping across pipeline stages and tensor-parallel ranks: the global norm is the sum
 * over the ranks of a model replica of each one's sum of squares, every shared part counted once
 * (the tied embedding on the first stage only; a replicated norm weight or a kv head replicated
 * over a tp group on its first holder only). Every layout then reports the 1-rank run's gradient
 * norms and, clipped to them, trains to its losses.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { closeAll, name, relDiff, startLayout, train, type Layout } from './fixtures/pipe_ranks.ts';
import type { StepResult } from '../../src/runtime/engine/engine.ts';

const STEPS = 4;
/** Below every step's norm (≈ 2.0 falling to ≈ 1.4 over these steps), so each step is clipped. */
const CLIP = 0.5;

async function clipped(l: Layout): Promise<StepResult[]> {
  const rts = await startLayout(l, { gradient_clipping: CLIP });
  try {
    return await train(rts, STEPS);
  } finally {
    await closeAll(rts);
  }
}

describe(`gradient_clipping ${CLIP} over stages and tp ranks gives the 1-rank norms and losses`, () => {
  let one: StepResult[] = [];
  beforeAll(async () => {
    one = await clipped({ world: 1, stages: 1 });
    for (const r of one) expect(r.gradNorm).toBeGreaterThan(CLIP);
  }, 60_000);

  // tp 4 over the model's 2 kv heads: each kv head is held by a pair of tp ranks.
  const layouts: Layout[] = [{ world: 2, stages: 2 }, { world: 4, stages: 2, zero: 1 }, { world: 2, stages: 1, tp: 2 }, { world: 4, stages: 1, tp: 4 }, { world: 4, stages: 1, tp: 2, zero: 2 }, { world: 4, stages: 2, tp: 2 }];
  for (const l of layouts) {
    it(name(l), async () => {
      const r = await clipped(l);
      expect(relDiff(r.map((x) => x.gradNorm), one.map((x) => x.gradNorm))).toBeLessThan(1e-5);
      expect(relDiff(r.map((x) => x.loss), one.map((x) => x.loss))).toBeLessThan(1e-5);
    }, 60_000);
  }
});
