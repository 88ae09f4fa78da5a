import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/data/rng.ts';
import type { RunnerBatch, RunnerSeq } from '../../../src/inference/runner/batch.ts';
import { splitBatch } from '../../../src/inference/runner/split.ts';

/** A batch of sequences with these query lengths, then `padding` rows; the last row of each sequence samples. */
function batch(lens: number[], padding = 0): RunnerBatch {
  const seqs: RunnerSeq[] = [];
  let at = 0;
  for (const len of lens) {
    seqs.push({ queryStart: at, queryLen: len, contextLen: len + 3, blockTable: Int32Array.from([seqs.length]) });
    at += len;
  }
  const N = at + padding;
  const rows = Int32Array.from({ length: N }, (_, i) => 1000 + i); // row i is recognisable in every array
  return { tokenIds: rows, positions: rows.map((r) => r + 1), slotMapping: rows.map((r) => r + 2), seqs, sampleRows: Int32Array.from(seqs.map((s) => s.queryStart + s.queryLen - 1)) };
}

describe('splitBatch', () => {
  it('partitions the rows in order, keeps each sequence whole, and maps every sampled row back', () => {
    const rng = new Rng(3);
    for (let trial = 0; trial < 200; trial++) {
      const lens = Array.from({ length: 1 + rng.int(12) }, () => (rng.int(3) === 0 ? 1 + rng.int(40) : 1));
      const b = batch(lens, rng.int(3) === 0 ? rng.int(20) : 0);
      const parts = 1 + rng.int(4);
      const split = splitBatch(b, parts);
      expect(split.length).toBeGreaterThanOrEqual(1);
      expect(split.length).toBeLessThanOrEqual(parts);
      // concatenated, the parts are the batch
      expect(split.flatMap((p) => [...p.batch.tokenIds])).toEqual([...b.tokenIds]);
      expect(split.flatMap((p) => [...p.batch.slotMapping])).toEqual([...b.slotMapping]);
      expect(split.flatMap((p) => [...p.batch.positions])).toEqual([...b.positions]);
      // every sequence lands whole in one part, rebased; every sampled row comes back to its index
      expect(split.reduce((n, p) => n + p.batch.seqs.length, 0)).toBe(b.seqs.length);
      const seen = new Set<number>();
      for (const p of split) {
        for (const s of p.batch.seqs) expect(s.queryStart + s.queryLen).toBeLessThanOrEqual(p.batch.tokenIds.length);
        p.outputIndex.forEach((o, r) => {
          expect(p.batch.tokenIds[p.batch.sampleRows[r]!]).toBe(b.tokenIds[b.sampleRows[o]!]);
          seen.add(o);
        });
      }
      expect(seen.size).toBe(b.sampleRows.length);
    }
  });

  it('balances decode batches and cuts padding rows anywhere', () => {
    expect(splitBatch(batch(Array(32).fill(1)), 2).map((p) => p.batch.tokenIds.length)).toEqual([16, 16]);
    expect(splitBatch(batch(Array(7).fill(1)), 3).map((p) => p.batch.tokenIds.length)).toEqual([2, 3, 2]);
    expect(splitBatch(batch([3], 13), 2).map((p) => p.batch.tokenIds.length)).toEqual([8, 8]);
    // one long prefill cannot be cut: one part
    expect(splitBatch(batch([50]), 2)).toHaveLength(1);
  });
});
