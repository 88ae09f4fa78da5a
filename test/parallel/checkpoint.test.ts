/**
 * Checkpoints of pipeline and tensor-parallel layouts: every rank saves its part (its stage's
 * parameters, each its tp slice, its ZeRO shard) through train.checkpoint.save_every; a fresh
 * run of the same layout resumes to the losses of the uninterrupted one; the checkpoint
 * consolidates to the 1-rank model's tensors (the same names, shapes and order as the 1-rank
 * run's checkpoint, each rank's part exactly where it belongs, the values those of the 1-rank
 * training); and another layout resumes it too.
 */
import { execFile } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { beforeAll, describe, expect, it } from 'vitest';
import { consolidateCheckpoint, cutLocal, readFlatPart, type ConsolidatedState } from '../../src/runtime/checkpoint/index.ts';
import { readFullWeights } from '../../src/export/read.ts';
import { readSafetensors } from '../../src/inference/loaders/safetensors/reader.ts';
import { closeAll, name, relDiff, startLayout, train, type Layout } from './fixtures/pipe_ranks.ts';

const SAVE_AT = 3;
const STEPS = 6;
const TAG = `global_step${SAVE_AT}`;
const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'ds-ck-pipe-'));

/** max |a - b| over max |b|. */
const maxRel = (a: Float32Array, b: Float32Array): number => {
  let d = 0;
  let m = 0;
  for (let i = 0; i < b.length; i++) {
    d = Math.max(d, Math.abs(a[i]! - b[i]!));
    m = Math.max(m, Math.abs(b[i]!));
  }
  return d / m;
};
/**
 * Parameters of two layouts after the same 3 AdamW steps at lr 1e-2 differ by float32 rounding
 * (partial sums in another order), which Adam's m/√v amplifies where gradients are tiny (rare
 * tokens' embedding rows): measured up to 1.3e-5 at tp 2. 1e-4 is a hundredth of one step; a
 * misplaced slice would differ by the weights' own ~1e-2.
 */
const PARAM_TOL = 1e-4;
const maxAbs = (a: Float32Array, b: Float32Array): number => {
  let d = 0;
  for (let i = 0; i < b.length; i++) d = Math.max(d, Math.abs(a[i]! - b[i]!));
  return d;
};

/** Trains STEPS steps, saving every SAVE_AT into a new dir; the losses, and every rank's parameters at the save. */
async function saved(l: Layout): Promise<{ dir: string; losses: number[]; held: { segments: Parameters<typeof cutLocal>[2]; data: Float32Array }[] }> {
  const dir = tmp();
  const rts = await startLayout(l, { train: { checkpoint: { dir, save_every: SAVE_AT } } });
  try {
    const first = await train(rts, SAVE_AT);
    const held = rts.map((rt) => ({ segments: rt.engine.flat.segments, data: Float32Array.from(rt.engine.flat.data.subarray(0, rt.engine.flat.numel)) }));
    const rest = await train(rts, STEPS - SAVE_AT, SAVE_AT);
    return { dir, losses: [...first, ...rest].map((r) => r.loss), held };
  } finally {
    await closeAll(rts);
  }
}

/** Loads dir's TAG at layout l and trains on to STEPS: the losses after the load. */
async function resumed(l: Layout, dir: string): Promise<number[]> {
  const rts = await startLayout(l);
  try {
    await Promise.all(rts.map((rt) => rt.engine.loadCheckpoint(dir, TAG)));
    expect(rts.map((rt) => rt.engine.step)).toEqual(rts.map(() => SAVE_AT));
    return (await train(rts, STEPS - SAVE_AT, SAVE_AT)).map((r) => r.loss);
  } finally {
    await closeAll(rts);
  }
}

describe('checkpoints of pipeline and tensor-parallel layouts', () => {
  let one: { dir: string; losses: number[]; ck: ConsolidatedState };
  const dirs = new Map<string, string>();
  beforeAll(async () => {
    const r = await saved({ world: 1, stages: 1 });
    one = { dir: r.dir, losses: r.losses, ck: await consolidateCheckpoint(r.dir, TAG) };
    expect(one.losses[STEPS - 1]!).toBeLessThan(one.losses[0]!);
  }, 60_000);

  const layouts: Layout[] = [{ world: 2, stages: 2 }, { world: 4, stages: 2, zero: 1 }, { world: 2, stages: 1, tp: 2 }, { world: 4, stages: 2, tp: 2 }];
  for (const l of layouts) {
    it(`${name(l)}: saves, resumes to the uninterrupted losses, consolidates to the 1-rank model's tensors`, async () => {
      const r = await saved(l);
      dirs.set(name(l), r.dir);
      expect(relDiff(r.losses, one.losses)).toBeLessThan(1e-5);

      const ck = await consolidateCheckpoint(r.dir, TAG);
      expect(ck.savedGrid).toEqual({ pipe: l.stages, data: l.world / l.stages / (l.tp ?? 1), model: l.tp ?? 1 });
      expect(ck.layout).toEqual(one.ck.layout);
      const fail = (why: string): never => { throw new Error(why); };
      for (const h of r.held) expect(cutLocal(ck.layout!, ck.params, h.segments, h.data.length, fail)).toEqual(h.data);
      expect(maxAbs(ck.params, one.ck.params)).toBeLessThan(PARAM_TOL);
      for (const [k, v] of Object.entries(one.ck.optimizer)) expect(maxRel(ck.optimizer[k]!, v)).toBeLessThan(1e-3);

      expect(relDiff(await resumed(l, r.dir), r.losses.slice(SAVE_AT))).toBeLessThan(1e-6);
    }, 90_000);
  }

  it('at the layout that saved it a rank reads only its own stage and tp rank: stage 0 resumes with stage 1\'s files gone', async () => {
    const dir = dirs.get(name({ world: 2, stages: 2 }))!;
    for (const f of fs.readdirSync(path.join(dir, TAG))) if (f.startsWith('rank_1.') && f.endsWith('.bin')) fs.rmSync(path.join(dir, TAG, f));
    const part = (await readFlatPart(dir, TAG, { pipe: 0, model: 0 }))!;
    expect(part.segments.map((s) => s.name)).toEqual(one.ck.layout!.slice(0, part.segments.length).map((e) => e.name));
    for (const s of part.segments) {
      const e = one.ck.layout!.find((x) => x.name === s.name)!;
      const n = e.shape.reduce((a, b) => a * b, 1);
      expect(maxAbs(part.params.subarray(s.offset, s.offset + n), one.ck.params.subarray(e.offset, e.offset + n))).toBeLessThan(PARAM_TOL);
    }
    await expect(consolidateCheckpoint(dir, TAG)).rejects.toThrow(/rank_1\.params\.bin: missing/);
  });

  it('another layout resumes a checkpoint: 1 rank → (tp 2, pp 2), (dp 2, pp 2) ZeRO-1 → tp 2', async () => {
    expect(relDiff(await resumed({ world: 4, stages: 2, tp: 2 }, one.dir), one.losses.slice(SAVE_AT))).toBeLessThan(1e-5);
    const z1 = dirs.get(name({ world: 4, stages: 2, zero: 1 }))!;
    expect(relDiff(await resumed({ world: 2, stages: 1, tp: 2 }, z1), one.losses.slice(SAVE_AT))).toBeLessThan(1e-5);
  }, 90_000);

  it('ds export and ds checkpoint consolidate read a (tp 2, pp 2) checkpoint as the 1-rank model', async () => {
    const dir = dirs.get(name({ world: 4, stages: 2, tp: 2 }))!;
    const [w, w1] = await Promise.all([readFullWeights(dir, TAG), readFullWeights(one.dir, TAG)]);
    expect([...w.weights.keys()]).toEqual([...w1.weights.keys()]);
    for (const [k, t] of w.weights) {
      expect(t.shape).toEqual(w1.weights.get(k)!.shape);
      expect(maxAbs(t.data as Float32Array, w1.weights.get(k)!.data as Float32Array)).toBeLessThan(PARAM_TOL);
    }
    const out = path.join(tmp(), 'model.safetensors');
    const { stdout } = await promisify(execFile)('node', ['bin/ds.js', 'checkpoint', 'consolidate', dir, '--tag', TAG, '--out', out], { encoding: 'utf8' });
    expect(stdout).toMatch(/world size 4 \(pipe 2 × data 1 × tensor 2\), ZeRO stage 0/);
    const st = readSafetensors(out);
    for (const [k, t] of w.weights) expect(st.tensors.get(k)!.data).toEqual(t.data);
  }, 60_000);
});
