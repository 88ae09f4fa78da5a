/**
 * Consolidation of a 3D checkpoint, with synthetic ranks: a model of named tensors is cut as a
 * (pipe 2, data 2, tensor 2) × ZeRO-1 run would hold it (tp slices along their dim, replicated
 * and kv-group-shared parts, the tied embedding on both stages, each flat buffer sharded over the
 * data axis), every rank saves its files, and consolidateCheckpoint must give back exactly the
 * whole tensors in the 1-rank order; cutting a rank's part out of them gives back its buffer.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { consolidateCheckpoint, cutLocal, saveCheckpoint, type RankLayout, type SegmentRecord } from '../../src/runtime/checkpoint/index.ts';
import { FormatError } from '../../src/errors.ts';

/** The whole model, in 1-rank order: name → [shape, how tp cuts it]. */
type Cut = { dim: number } | 'replicated' | 'kv-shared';
const MODEL: [string, number[], Cut][] = [
  ['embed', [6, 4], { dim: 0 }], // vocab-parallel
  ['norm0', [4], 'replicated'],
  ['q', [8, 4], { dim: 0 }], // column-parallel
  ['k', [2, 4], 'kv-shared'], // one kv head, replicated over the 2 tp ranks
  ['o', [4, 8], { dim: 1 }], // row-parallel
  ['norm', [4], 'replicated'],
];
/** Stage 0: embed, norm0, q; stage 1: k, o, norm and the tied embedding (the head). */
const STAGES = [['embed', 'norm0', 'q'], ['k', 'o', 'norm', 'embed']];
const TP = 2;
const DP = 2;

const numel = (s: readonly number[]): number => s.reduce((a, b) => a * b, 1);
/** Distinct values per tensor and buffer, so a misplaced element shows. */
const value = (t: number, i: number, buf: number): number => 1000 * buf + 100 * t + i + 0.5;
const full = (name: string, buf: number): Float32Array => {
  const t = MODEL.findIndex((m) => m[0] === name);
  return Float32Array.from({ length: numel(MODEL[t]![1]) }, (_, i) => value(t, i, buf));
};

/** Tp rank m's segments of a stage, and its flat buffer of each kind (0 params, 1 exp_avg). */
function tpPart(stage: number, m: number): { segments: SegmentRecord[]; flats: Float32Array[] } {
  const segments: SegmentRecord[] = [];
  let offset = 0;
  for (const name of STAGES[stage]!) {
    const [, shape, cut] = MODEL.find((e) => e[0] === name)!;
    let seg: SegmentRecord;
    if (cut === 'replicated') seg = { name, shape, offset, slice: { fullShape: shape, dim: 0, start: 0, end: shape[0]!, sharedBy: [0, 1] } };
    else if (cut === 'kv-shared') seg = { name, shape, offset, slice: { fullShape: shape, dim: 0, start: 0, end: shape[0]!, sharedBy: [0, 1] } };
    else {
      const len = shape[cut.dim]! / TP;
      const local = shape.map((d, i) => (i === cut.dim ? len : d));
      seg = { name, shape: local, offset, slice: { fullShape: shape, dim: cut.dim, start: m * len, end: (m + 1) * len, sharedBy: [m] } };
    }
    segments.push(seg);
    offset += numel(seg.shape);
  }
  const flats = [0, 1].map((buf) => {
    const out = new Float32Array(offset);
    for (const seg of segments) {
      const whole = full(seg.name, buf);
      const dst = out.subarray(seg.offset, seg.offset + numel(seg.shape));
      const s = seg.slice!;
      const inner = numel(s.fullShape.slice(s.dim + 1));
      const outer = numel(s.fullShape.slice(0, s.dim));
      const F = s.fullShape[s.dim]!;
      const run = (s.end - s.start) * inner;
      for (let o = 0; o < outer; o++) dst.set(whole.subarray((o * F + s.start) * inner, (o * F + s.end) * inner), o * run); // reference cut, written out here
    }
    return out;
  });
  return { segments, flats };
}

async function saveSynthetic(dir: string, drop?: (rl: RankLayout) => RankLayout): Promise<void> {
  const world = 2 * DP * TP;
  await Promise.all(Array.from({ length: world }, async (_, rank) => {
    // rank = (pipe · D + data) · M + model
    const coord = { pipe: Math.floor(rank / (DP * TP)), data: Math.floor(rank / TP) % DP, model: rank % TP };
    const { segments, flats } = tpPart(coord.pipe, coord.model);
    const n = flats[0]!.length;
    const S = Math.ceil(n / DP);
    const shard = (f: Float32Array): Float32Array => {
      const out = new Float32Array(S);
      out.set(f.subarray(coord.data * S, Math.min(n, (coord.data + 1) * S)));
      return out;
    };
    let rankLayout: RankLayout = {
      grid: { pipe: 2, data: DP, model: TP }, coord, segments,
      zero: { stage: 1, worldSize: DP, numel: n, shardSize: S, sharded: { params: true, optimizer: true }, partition: 'flat' },
    };
    if (drop) rankLayout = drop(rankLayout);
    await saveCheckpoint({
      dir, tag: 't', rank, worldSize: world, files: { params: shard(flats[0]!), 'optim.exp_avg': shard(flats[1]!) }, rankLayout, meta: { step: 5, optimizer_step: 5 },
    });
  }));
}

const tmp = (): string => fs.mkdtempSync(path.join(os.tmpdir(), 'ds-ck3d-'));

describe('a (pipe 2, data 2, tensor 2) ZeRO-1 checkpoint consolidates to the whole model', () => {
  it('every tensor whole, in the 1-rank order; parameters and optimizer state; each rank cuts its own part back out', async () => {
    const dir = tmp();
    await saveSynthetic(dir);
    const ck = await consolidateCheckpoint(dir);
    expect(ck.savedGrid).toEqual({ pipe: 2, data: 2, model: 2 });
    expect(ck.layout!.map((e) => [e.name, e.shape])).toEqual(MODEL.map(([n, s]) => [n, s]));
    let at = 0;
    for (const e of ck.layout!) {
      expect(e.offset).toBe(at);
      expect(ck.params.subarray(e.offset, e.offset + numel(e.shape))).toEqual(full(e.name, 0));
      expect(ck.optimizer.exp_avg!.subarray(e.offset, e.offset + numel(e.shape))).toEqual(full(e.name, 1));
      at += numel(e.shape);
    }
    expect(ck.params.length).toBe(at);
    for (const stage of [0, 1]) {
      for (let m = 0; m < TP; m++) {
        const { segments, flats } = tpPart(stage, m);
        const fail = (why: string): never => { throw new Error(why); };
        expect(cutLocal(ck.layout!, ck.params, segments, flats[0]!.length, fail)).toEqual(flats[0]);
        expect(cutLocal(ck.layout!, ck.optimizer.exp_avg!, segments, flats[1]!.length, fail)).toEqual(flats[1]);
      }
    }
    fs.rmSync(dir, { recursive: true });
  });

  it('a tp slice nobody holds is an error naming the parameter and the gap', async () => {
    const dir = tmp();
    // Tp rank 1 claims q's rows 0-3 as rank 0 does: rows 4-7 are held by nobody.
    await saveSynthetic(dir, (rl) => (rl.coord.model === 1 && rl.coord.pipe === 0
      ? { ...rl, segments: rl.segments.map((s) => (s.name === 'q' ? { ...s, slice: { ...s.slice!, start: 0, end: 4 } } : s)) }
      : rl));
    const err = await consolidateCheckpoint(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(String(err)).toMatch(/"q" along dim 0 end at 4; nothing holds \[4, 8\)/);
    fs.rmSync(dir, { recursive: true });
  });

  it('a slice whose local shape disagrees with its range is an error naming the rank', async () => {
    const dir = tmp();
    await saveSynthetic(dir, (rl) => (rl.coord.pipe === 1 && rl.coord.model === 0
      ? { ...rl, segments: rl.segments.map((s) => (s.name === 'o' ? { ...s, slice: { ...s.slice!, start: 0, end: 3 } } : s)) }
      : rl));
    const err = await consolidateCheckpoint(dir).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(FormatError);
    expect(String(err)).toMatch(/rank 4 \(pipe 1, data 0, model 0\): "o" is \[4,4\], but its slice \[0, 3\) on dim 1 of \[4,8\] is \[4,3\]/);
    fs.rmSync(dir, { recursive: true });
  });
});
