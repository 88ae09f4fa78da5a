/**
 * Checkpoints across world sizes and stages: each rank saves its own shard (meta.zero says how
 * the buffers are cut), and a run of any world size and stage loads it as it is and continues
 * the loss curve of the run that saved it. Global batch 12, so 2, 3 and 4 ranks all divide it.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { consolidateCheckpoint } from '../../src/runtime/checkpoint/index.ts';
import { readSafetensors } from '../../src/inference/loaders/safetensors/reader.ts';
import { closeAll, relDiff, startRanks, trainAll, zeroConfig } from './helpers.ts';

const SAVE_AT = 3;
const STEPS = 6;
const cfg = (world: number, stage: number, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  zeroConfig(world, 1, { stage, reduce_bucket_size: 400, stage3_param_persistence_threshold: 20 }, extra, 12);

/** Trains STEPS steps at (world, stage), saving at SAVE_AT into dir; returns rank 0's losses. */
async function fullRun(world: number, stage: number, dir: string, extra: Record<string, unknown> = {}): Promise<number[]> {
  const rts = await startRanks(world, cfg(world, stage, extra));
  try {
    const first = await trainAll(rts, SAVE_AT);
    await Promise.all(rts.map((rt) => rt.engine.saveCheckpoint(dir)));
    const rest = await trainAll(rts, STEPS - SAVE_AT, SAVE_AT);
    return [...first, ...rest].map((r) => r.loss);
  } finally {
    await closeAll(rts);
  }
}

/** Loads dir at (world, stage) and trains to STEPS; returns rank 0's losses after the load. */
async function resumed(world: number, stage: number, dir: string, extra: Record<string, unknown> = {}): Promise<number[]> {
  const rts = await startRanks(world, cfg(world, stage, extra));
  try {
    await Promise.all(rts.map((rt) => rt.engine.loadCheckpoint(dir)));
    expect(rts[0]!.engine.step).toBe(SAVE_AT);
    return (await trainAll(rts, STEPS - SAVE_AT, SAVE_AT)).map((r) => r.loss);
  } finally {
    await closeAll(rts);
  }
}

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'ds-reshard-'));

describe('a checkpoint saved at world N, stage s loads at world M, stage t and the curve continues', () => {
  for (const [[n, s], [m, t]] of [[[4, 1], [2, 0]], [[2, 0], [3, 2]], [[2, 2], [2, 3]], [[3, 3], [4, 1]]] as const) {
    it(`${n} ranks stage ${s} → ${m} ranks stage ${t}`, async () => {
      const dir = tmp();
      const full = await fullRun(n, s, dir);
      const meta = JSON.parse(fs.readFileSync(path.join(dir, `global_step${SAVE_AT}`, 'meta.json'), 'utf8')) as { zero: { stage: number; worldSize: number; sharded: { params: boolean } } };
      expect(meta.zero).toMatchObject({ stage: s, worldSize: n, sharded: { params: s > 0 } });
      const after = await resumed(m, t, dir);
      expect(relDiff(after, full.slice(SAVE_AT))).toBeLessThan(1e-5);
      fs.rmSync(dir, { recursive: true });
    }, 60_000);
  }

  it('bf16 weights on disk: the shards of the float32 master come back, so 2 ranks stage 2 → 3 ranks stage 3 continues exactly', async () => {
    const dir = tmp();
    const bf16 = { bf16: { enabled: true }, communication_data_type: 'fp32' };
    const full = await fullRun(2, 2, dir, bf16);
    const manifest = JSON.parse(fs.readFileSync(path.join(dir, `global_step${SAVE_AT}`, 'manifest.json'), 'utf8')) as { ranks: Record<string, { dtype: string }>[] };
    expect(manifest.ranks[1]!.params!.dtype).toBe('bfloat16');
    expect(manifest.ranks[1]!['optim.fp32_master']!.dtype).toBe('float32');
    expect(relDiff(await resumed(3, 3, dir, bf16), full.slice(SAVE_AT))).toBeLessThan(1e-5);
    fs.rmSync(dir, { recursive: true });
  }, 60_000);

  it('stage 1-3 ranks write only their shard: rank files are [S], not the whole model', async () => {
    const dir = tmp();
    const rts = await startRanks(2, cfg(2, 3));
    try {
      await Promise.all(rts.map((rt) => rt.engine.saveCheckpoint(dir, 'zero3')));
      const psi = rts[0]!.engine.flat.numel;
      const manifest = JSON.parse(fs.readFileSync(path.join(dir, 'zero3', 'manifest.json'), 'utf8')) as { ranks: Record<string, { numel: number }>[] };
      for (const r of manifest.ranks) {
        expect(r.params!.numel).toBe(rts[0]!.engine.flat.padded / 2);
        expect(r['optim.exp_avg']!.numel).toBe(rts[0]!.engine.flat.padded / 2);
        expect(r.params!.numel).toBeLessThan(psi);
      }
    } finally {
      await closeAll(rts);
      fs.rmSync(dir, { recursive: true });
    }
  }, 60_000);
});

describe('ds checkpoint consolidate', () => {
  it('writes the full float32 weights of a 2-rank ZeRO-3 checkpoint: those of the 1-rank run, by name', async () => {
    const [sharded, single] = [tmp(), tmp()];
    await fullRun(2, 3, sharded);
    await fullRun(1, 0, single);
    const out = path.join(sharded, 'model.safetensors');
    const { stdout } = await promisify(execFile)('node', ['bin/ds.js', 'checkpoint', 'consolidate', sharded, '--out', out, '--tag', `global_step${SAVE_AT}`], { encoding: 'utf8' });
    expect(stdout).toMatch(/world size 2, ZeRO stage 3/);
    const st = readSafetensors(out);
    const ref = await consolidateCheckpoint(single, `global_step${SAVE_AT}`);
    const layout = ref.meta.layout as { name: string; shape: number[]; offset: number }[];
    expect([...st.tensors.keys()]).toEqual(layout.map((e) => e.name));
    for (const e of layout) {
      const t = st.tensors.get(e.name)!;
      expect(t.shape).toEqual(e.shape);
      const want = ref.params.subarray(e.offset, e.offset + t.data.length);
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(t.data[i]! - want[i]!));
      // Same training, summed in another order: float32 rounding, far below the weights' ~1e-2 scale.
      expect(err).toBeLessThan(1e-5);
    }
    fs.rmSync(sharded, { recursive: true });
    fs.rmSync(single, { recursive: true });
  }, 120_000);
});
