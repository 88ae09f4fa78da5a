/**
 * The ZeRO contract: every stage trains the same model to the same losses as one rank, with
 * gradient accumulation and clipping on (the clip engages: max norm 0.5).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { lossCurve, relDiff, zeroConfig } from './helpers.ts';

const STEPS = 20;

describe('every ZeRO stage gives the loss curve of one rank', () => {
  let one: number[] = [];
  beforeAll(async () => {
    one = await lossCurve(1, zeroConfig(1, 2, { stage: 0 }), STEPS);
  }, 60_000);

  it('the reference run learns (and is the curve the stages are held to)', () => {
    expect(one).toHaveLength(STEPS);
    expect(one[STEPS - 1]!).toBeLessThan(one[0]! * 0.8);
  });

  for (const stage of [0, 1, 2, 3]) for (const world of [2, 4]) {
    it(`stage ${stage}, ${world} ranks, accumulation ${world === 2 ? 2 : 1}`, async () => {
      const gas = world === 2 ? 2 : 1;
      // Small buckets, so stages 2 and 3 reduce several buckets between layers; no resident parameters at stage 3.
      const losses = await lossCurve(world, zeroConfig(world, gas, { stage, reduce_bucket_size: 300, allgather_bucket_size: stage === 3 ? 500_000_000 : 256, stage3_param_persistence_threshold: 0 }), STEPS);
      expect(relDiff(losses, one)).toBeLessThan(1e-5);
    }, 60_000);
  }

  for (const stage of [3]) {
    it(`stage ${stage} with overlap_comm (buckets reduce while backward goes on) and a small prefetch bucket, 2 ranks`, async () => {
      const losses = await lossCurve(2, zeroConfig(2, 2, { stage, overlap_comm: true, reduce_bucket_size: 200, stage3_prefetch_bucket_size: 600, stage3_param_persistence_threshold: 0 }), STEPS);
      expect(relDiff(losses, one)).toBeLessThan(1e-5);
    }, 60_000);
  }

  for (const stage of [1, 3]) {
    it(`stage ${stage} with offload_optimizer cpu (Adam on host worker threads), 2 ranks`, async () => {
      const losses = await lossCurve(2, zeroConfig(2, 2, { stage, offload_optimizer: { device: 'cpu' }, reduce_bucket_size: 300, stage3_param_persistence_threshold: 0 }), STEPS);
      expect(relDiff(losses, one)).toBeLessThan(1e-5);
    }, 60_000);
  }

  for (const stage of [2]) {
    it(`stage ${stage} with reduce_scatter false (all-reduce, keep the own shard), 2 ranks`, async () => {
      const losses = await lossCurve(2, zeroConfig(2, 2, { stage, reduce_scatter: false, reduce_bucket_size: 300 }), STEPS);
      expect(relDiff(losses, one)).toBeLessThan(1e-5);
    }, 60_000);
  }
});
