import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { InputError } from '../../../src/errors.ts';
import { evaluateLoss, MANIFEST_FORMAT, openTrainingData, writeShard, type TokenBatch, type TrainingData } from '../../../src/data/arrow/index.ts';

const T = 4; // seq_len
const W = T + 1; // row_len

/** Row i holds tokens 100·i + t, t = 0..T: the row a batch came from is input[b·T] / 100. */
function rowTokens(i: number): number[] {
  return Array.from({ length: W }, (_, t) => 100 * i + t);
}

/** A dataset dir with `train` and `validation` rows, written as `ds data prepare` writes it (shards of 5 rows). */
function makeDataset(root: string, name: string, rows: { train: number; validation: number }): string {
  const dir = join(root, name);
  mkdirSync(dir, { recursive: true });
  const splits: Record<string, unknown> = {};
  let first = 0;
  for (const split of ['train', 'validation'] as const) {
    const shards: { file: string; rows: number }[] = [];
    for (let s = 0; s * 5 < rows[split]; s++) {
      const n = Math.min(5, rows[split] - s * 5);
      const values = Int32Array.from({ length: n * W }, (_, k) => rowTokens(first + s * 5 + Math.floor(k / W))[k % W]!);
      const file = `${split}-${String(s).padStart(5, '0')}.arrow`;
      writeShard(join(dir, file), values, n, W);
      shards.push({ file, rows: n });
    }
    splits[split] = { rows: rows[split], tokens: rows[split] * W, documents: 1, dropped_tokens: 0, shards };
    first += 1000; // validation rows are 1000, 1001, …
  }
  const manifest = { format: MANIFEST_FORMAT, seq_len: T, row_len: W, vocab_size: 1 << 20, eos_id: 0, tokenizer: 'tokenizer.json', source: 'test', seed: 0, val_fraction: 0.1, splits };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest));
  return dir;
}

/** The split rows a micro-batch holds (those with mask 1), checking input/target against the row. */
function rowsOf(mb: TokenBatch): number[] {
  const out: number[] = [];
  for (let b = 0; b < mb.batchSize; b++) {
    const i = mb.input[b * T]! / 100;
    const row = rowTokens(i);
    expect([...mb.input.subarray(b * T, (b + 1) * T)]).toEqual(row.slice(0, T));
    expect([...mb.target.subarray(b * T, (b + 1) * T)]).toEqual(row.slice(1));
    if (mb.mask[b * T] === 1) out.push(i);
  }
  return out;
}

function take(loader: TrainingData, n: number): number[][] {
  return Array.from({ length: n }, () => rowsOf(loader.next()));
}

describe('openTrainingData', () => {
  const root = mkdtempSync(join(tmpdir(), 'ds-loader-'));
  const dir = makeDataset(root, 'd', { train: 12, validation: 13 });
  const open = (rank: number, worldSize: number, microBatchSize: number, seed = 7) => openTrainingData(dir, { rank, worldSize, microBatchSize, seed });

  it('2 ranks take disjoint rows that cover the epoch; the next epoch is another permutation', () => {
    const r0 = open(0, 2, 3);
    const r1 = open(1, 2, 3);
    expect(r0.stepsPerEpoch).toBe(2);
    const epochs: number[][] = [];
    for (let e = 0; e < 3; e++) {
      expect(r0.epoch).toBe(e);
      const a = take(r0, 2).flat();
      const b = take(r1, 2).flat();
      expect(a.filter((i) => b.includes(i))).toEqual([]);
      expect([...a, ...b].sort((x, y) => x - y)).toEqual([...Array(12).keys()]);
      epochs.push([...a, ...b]);
    }
    expect(r0.epoch).toBe(3);
    expect(epochs[1]).not.toEqual(epochs[0]);
    expect(epochs[2]).not.toEqual(epochs[1]);
    // deterministic: the same seed gives the same order, another seed another one
    expect(take(open(0, 2, 3), 2)).toEqual(take(open(0, 2, 3), 2));
    expect(take(open(0, 2, 3, 8), 2)).not.toEqual(take(open(0, 2, 3), 2));
  });

  it('1 rank × micro-batch 6 sees, step by step, the rows that 2 ranks × 3 see together', () => {
    const one = take(open(0, 1, 6), 6); // 3 epochs of 2 steps
    const r0 = take(open(0, 2, 3), 6);
    const r1 = take(open(1, 2, 3), 6);
    const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);
    for (let s = 0; s < 6; s++) expect(sorted([...r0[s]!, ...r1[s]!])).toEqual(sorted(one[s]!));
  });

  it('restore() continues with exactly the micro-batches that followed, across an epoch boundary', () => {
    const a = open(1, 2, 2); // 3 steps per epoch
    take(a, 4);
    const saved = JSON.parse(JSON.stringify(a.state()));
    expect(saved).toMatchObject({ epoch: 1, position: 1, seed: 7, worldSize: 2, microBatchSize: 2, rows: 12 });
    const after = take(a, 7);
    const b = open(1, 2, 2, 99); // a fresh run; the saved seed wins
    b.restore(saved);
    expect(b.epoch).toBe(1);
    expect(take(b, 7)).toEqual(after);
    expect(() => open(0, 1, 3).restore(saved)).toThrow(/4 rows of epoch 1 were read \(1 steps of 2 ranks × 2\), not a whole number of this run's steps of 1 × 3 rows/);
    expect(() => open(0, 2, 2).restore({ ...saved, rows: 13 })).toThrow(/saved position is for 13 rows, this dataset has 12/);
    expect(() => b.restore({ ...saved, position: 3 })).toThrow(/position 3 is outside \[0, 3\)/);
    expect(() => b.restore(null as never)).toThrow(/saved data position is not an object/);
  });

  it('restore() at another world size or micro-batch continues at the same row of the epoch', () => {
    const r0 = open(0, 2, 2);
    const r1 = open(1, 2, 2);
    take(r0, 4);
    take(r1, 4); // epoch 1, 1 step in: 4 rows of its permutation read
    const saved = JSON.parse(JSON.stringify(r0.state()));
    const one = open(0, 1, 4, 99);
    one.restore(saved); // 1 rank × 4: the same 4 rows per step as 2 ranks × 2 together
    const sorted = (a: number[]): number[] => [...a].sort((x, y) => x - y);
    for (let s = 0; s < 4; s++) expect(sorted(take(one, 1)[0]!)).toEqual(sorted([...take(r0, 1)[0]!, ...take(r1, 1)[0]!]));
  });

  it('the validation reader covers every row once over the ranks, padding masked, unshuffled', () => {
    const seen: number[] = [];
    const steps: number[] = [];
    for (let rank = 0; rank < 2; rank++) {
      const v = openTrainingData(dir, { rank, worldSize: 2, microBatchSize: 4, seed: 0, split: 'validation' });
      const batches = [...v.evalBatches()];
      steps.push(batches.length);
      for (const mb of batches) seen.push(...rowsOf(mb));
      expect(rowsOf(v.next())).toEqual([1000 + rank, 1002 + rank, 1004 + rank, 1006 + rank]); // no shuffle
    }
    expect(steps).toEqual([2, 2]); // 13 rows: 7 and 6 per rank, padded to 2 batches of 4 each
    expect(seen.sort((x, y) => x - y)).toEqual(Array.from({ length: 13 }, (_, i) => 1000 + i));
  });

  it('gives clear errors: no directory, no manifest, a seq_len mismatch, too few rows', () => {
    const o = { rank: 0, worldSize: 1, microBatchSize: 2, seed: 0 };
    expect(() => openTrainingData(join(root, 'nope'), o)).toThrow(/dataset directory .*nope does not exist/);
    mkdirSync(join(root, 'empty'));
    expect(() => openTrainingData(join(root, 'empty'), o)).toThrow(InputError);
    expect(() => openTrainingData(join(root, 'empty'), o)).toThrow(/no dataset manifest at .*empty\/manifest\.json/);
    expect(() => openTrainingData(dir, { ...o, seqLen: 8 })).toThrow(/d\/manifest\.json: seq_len is 4, but the model trains on 8/);
    expect(() => openTrainingData(dir, { ...o, microBatchSize: 7, worldSize: 2 })).toThrow(/train split has 12 rows, fewer than one micro-batch per rank \(2 rank\(s\) × 7 rows\)/);
    const noVal = makeDataset(root, 'noval', { train: 12, validation: 0 });
    expect(() => openTrainingData(noVal, { ...o, split: 'validation' })).toThrow(/validation split has no rows\. validation: none\. The corpus gives 12 rows/);
  });
});

describe('evaluateLoss', () => {
  const root = mkdtempSync(join(tmpdir(), 'ds-eval-'));
  const dir = makeDataset(root, 'd', { train: 6, validation: 13 });
  // A stand-in for engine.evalLoss: the mean over masked targets of a per-token "loss" f(target).
  const f = (tok: number): number => 1 + ((tok * 7919) % 13) / 5;
  const meanMaskedLoss = (mb: TokenBatch): number => {
    let s = 0;
    let n = 0;
    for (let i = 0; i < mb.mask.length; i++) {
      s += f(mb.target[i]!) * mb.mask[i]!;
      n += mb.mask[i]!;
    }
    return n > 0 ? s / n : 0;
  };
  // An in-process all-reduce of 3 participants: resolves when all have contributed.
  const pending: { x: Float64Array; done: (v: Float64Array) => void }[] = [];
  const allReduce = (x: Float64Array): Promise<Float64Array> =>
    new Promise((done) => {
      pending.push({ x, done });
      if (pending.length < 3) return;
      const total = new Float64Array(x.length);
      for (const p of pending) for (let i = 0; i < x.length; i++) total[i]! += p.x[i]!;
      for (const p of pending.splice(0)) p.done(total.slice());
    });
  // float64 reference: every validation target token once
  let refSum = 0;
  for (let i = 0; i < 13; i++) for (let t = 1; t <= T; t++) refSum += f(100 * (1000 + i) + t);
  const ref = refSum / (13 * T);

  it('is the mean over every target token of the split, for any micro-batch size and rank count', async () => {
    const one = await evaluateLoss(openTrainingData(dir, { rank: 0, worldSize: 1, microBatchSize: 5, seed: 0, split: 'validation' }), meanMaskedLoss);
    expect(one.tokens).toBe(13 * T);
    expect(one.loss).toBeCloseTo(ref, 12);
    expect(one.perplexity).toBeCloseTo(Math.exp(ref), 10);
    // 3 ranks, micro-batch 2: each rank scores its share, `sum` adds the shares as an all-reduce does
    const results = await Promise.all([0, 1, 2].map((rank) =>
      evaluateLoss(openTrainingData(dir, { rank, worldSize: 3, microBatchSize: 2, seed: 0, split: 'validation' }), meanMaskedLoss, { sum: allReduce }),
    ));
    for (const r of results) {
      expect(r.tokens).toBe(13 * T);
      expect(r.loss).toBeCloseTo(ref, 12);
    }
  });

  it('maxBatches limits each rank to its first batches', async () => {
    const v = openTrainingData(dir, { rank: 0, worldSize: 1, microBatchSize: 4, seed: 0, split: 'validation' });
    const r = await evaluateLoss(v, meanMaskedLoss, { maxBatches: 1 });
    expect(r.tokens).toBe(4 * T);
    let s = 0;
    for (let i = 0; i < 4; i++) for (let t = 1; t <= T; t++) s += f(100 * (1000 + i) + t);
    expect(r.loss).toBeCloseTo(s / (4 * T), 12);
    await expect(evaluateLoss(v, meanMaskedLoss, { maxBatches: 0 })).rejects.toThrow(/maxBatches must be a positive integer/);
  });
});
