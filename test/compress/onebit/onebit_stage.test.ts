/**
 * 1-bit Adam through initialize(), as a user's config turns it on: during warm-up the same
 * losses as Adam (one rank and two), after freeze_step close to Adam with the gradient
 * all-reduce off (the wire bytes per step drop), and a checkpoint resume continues the curve
 * exactly (error feedback and frozen variance are saved per rank).
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { loadConfig } from '../../../src/runtime/config/index.ts';
import { loadCheckpoint } from '../../../src/runtime/checkpoint/index.ts';
import { closeAll, lossCurve, relDiff, startRanks, trainAll, zeroConfig } from '../../zero/helpers.ts';

const ADAM = { lr: 1e-2, weight_decay: 0.01 };
const adamCfg = (world: number) => zeroConfig(world, 1, { stage: 0 }, {}, 8);
const onebitCfg = (world: number, freeze: number, extra: Record<string, unknown> = {}) =>
  zeroConfig(world, 1, { stage: 0 }, { optimizer: { type: 'OneBitAdam', params: { ...ADAM, freeze_step: freeze, ...extra } } }, 8);
const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

describe('OneBitAdam through initialize', () => {
  const STEPS = 40;
  // The Adam curve: one rank, which every data-parallel layout matches within 1e-5 (the ZeRO contract).
  let adam1: number[] = [];
  beforeAll(async () => {
    adam1 = await lossCurve(1, adamCfg(1), STEPS);
  }, 60_000);

  it('warm-up: the losses of Adam at one rank and two, with the same bytes on the wire', async () => {
    const steps = 8;
    const adam2 = await startRanks(2, adamCfg(2));
    const onebit2 = await startRanks(2, onebitCfg(2, 100));
    try {
      const a = await trainAll(adam2, steps);
      const b = await trainAll(onebit2, steps);
      expect(b.map((r) => r.loss)).toEqual(a.map((r) => r.loss));
      expect(b.map((r) => r.commBytes)).toEqual(a.map((r) => r.commBytes));
      expect(relDiff(b.map((r) => r.loss), adam1.slice(0, steps))).toBeLessThan(1e-5);
      expect(Buffer.from(onebit2[1]!.engine.flat.data.buffer).equals(Buffer.from(adam2[1]!.engine.flat.data.buffer))).toBe(true);
    } finally {
      await closeAll([...adam2, ...onebit2]);
    }
  }, 60_000);

  it('after freeze_step: close to itself uncompressed and to Adam, ranks identical, far fewer bytes per step', async () => {
    const freeze = 15;
    // No clipping here: with the variance frozen, a clip factor scales the step itself, and on a
    // model this small that swamps what this test looks at, the cost of the compression.
    const noClip = { gradient_clipping: 0 };
    const cfg = (world: number) => ({ ...onebitCfg(world, freeze), ...noClip });
    // One rank runs the same optimizer with nothing to compress: what freezing the variance costs alone.
    const frozenOnly = await lossCurve(1, cfg(1), STEPS);
    const adam = await lossCurve(1, { ...adamCfg(1), ...noClip }, STEPS);
    const onebit = await startRanks(2, cfg(2));
    try {
      const b = await trainAll(onebit, STEPS);
      const bl = b.map((r) => r.loss);
      const tail = (xs: number[]) => mean(xs.slice(-10));
      expect(tail(bl)).toBeLessThan(bl[0]! * 0.65);
      expect(Math.abs(tail(bl) - tail(frozenOnly)) / tail(frozenOnly)).toBeLessThan(0.1);
      expect(Math.abs(tail(bl) - tail(adam)) / tail(adam)).toBeLessThan(0.15);
      // Every rank applies the same update to the same parameters.
      expect(Buffer.from(onebit[0]!.engine.flat.data.buffer).equals(Buffer.from(onebit[1]!.engine.flat.data.buffer))).toBe(true);
      const warm = mean(b.slice(1, freeze).map((r) => r.commBytes));
      const compressed = mean(b.slice(freeze + 1).map((r) => r.commBytes));
      // Ψ is a few thousand here, so frame headers and the engine's scalar sums weigh far more
      // than on a real model (ds bench train measures the ratio on the reference task: 30×).
      expect(warm / compressed).toBeGreaterThan(8);
    } finally {
      await closeAll(onebit);
    }
  }, 90_000);

  it('a checkpoint in the compressed phase resumes the same curve (error feedback restored per rank)', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'onebit-'));
    const cfg = onebitCfg(2, 3);
    const first = await startRanks(2, cfg);
    let want: number[];
    try {
      await trainAll(first, 6);
      await Promise.all(first.map((rt) => rt.engine.saveCheckpoint(dir)));
      want = (await trainAll(first, 4, 6)).map((r) => r.loss);
    } finally {
      await closeAll(first);
    }
    const saved = JSON.parse(fs.readFileSync(path.join(dir, 'global_step6', 'manifest.json'), 'utf8')) as { ranks: Record<string, unknown>[] };
    expect(Object.keys(saved.ranks[1]!)).toEqual(expect.arrayContaining(['onebit.worker_error', 'onebit.server_error', 'optim.exp_avg_sq']));
    const rank1 = (await loadCheckpoint({ dir, tag: 'global_step6', rank: 1, worldSize: 2 })).files;
    // Three compressed steps left real errors to carry (a reset to 0 would change the next steps).
    expect((rank1['onebit.worker_error'] as Float32Array).some((x) => x !== 0)).toBe(true);
    const again = await startRanks(2, cfg);
    try {
      await Promise.all(again.map((rt) => rt.engine.loadCheckpoint(dir)));
      const got = (await trainAll(again, 4, 6)).map((r) => r.loss);
      expect(got).toEqual(want);
    } finally {
      await closeAll(again);
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);

  it('refuses ZeRO with DeepSpeed\'s reason, cuda_aware, other backends and keys Adam does not take', () => {
    const load = (c: Record<string, unknown>) => () => loadConfig(c, { dpWorldSize: 2 });
    expect(load(zeroConfig(2, 1, { stage: 1 }, { optimizer: { type: 'OneBitAdam', params: ADAM } }))).toThrow(/zero_optimization.stage: 1bit-Adam is not compatible with ZeRO/);
    expect(load(onebitCfg(2, 10, { cuda_aware: true }))).toThrow(/optimizer.params.cuda_aware: true is not supported/);
    expect(load(onebitCfg(2, 10, { comm_backend_name: 'mpi' }))).toThrow(/optimizer.params.comm_backend_name: "mpi" is not supported/);
    expect(load(onebitCfg(2, 10, { momentum: 0.9 }))).toThrow(/optimizer.params.momentum: not a parameter of OneBitAdam/);
    expect(load(onebitCfg(2, 0))).toThrow(/optimizer.params.freeze_step/);
    const ok = loadConfig(onebitCfg(2, 10, { comm_backend_name: 'nccl', cuda_aware: false }), { dpWorldSize: 2 });
    expect(ok.optimizer?.params.freeze_step).toBe(10);
    // DeepSpeed's spelling of the type is matched case-insensitively, as the other optimizers.
    expect(loadConfig({ ...onebitCfg(2, 10), optimizer: { type: 'onebitadam', params: {} } }, { dpWorldSize: 2 }).optimizer?.params.freeze_step).toBe(100000);
  });
});
