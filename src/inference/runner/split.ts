import type { RunnerBatch, RunnerSeq } from './batch.ts';

/** One thread's share of a batch: its own RunnerBatch, and where its logits rows go in the whole's output. */
export interface BatchPart {
  readonly batch: RunnerBatch;
  /** For each of this part's sampleRows: its index in the whole batch's sampleRows. */
  readonly outputIndex: readonly number[];
}

/**
 * Splits a batch into at most `parts` contiguous row ranges of about equal token counts, cutting
 * only between sequences (a sequence's rows stay together: its attention reads its own earlier
 * rows' K/V) or between padding rows. Every row lands in exactly one part, in order; empty parts
 * are dropped.
 */
export function splitBatch(batch: RunnerBatch, parts: number): BatchPart[] {
  const N = batch.tokenIds.length;
  // Units that cannot be cut: each sequence's rows, and each padding row alone.
  const units: [number, number][] = batch.seqs.map((s): [number, number] => [s.queryStart, s.queryStart + s.queryLen]).sort((a, b) => a[0] - b[0]);
  const cuts = [0];
  let u = 0;
  for (let p = 1; p < parts; p++) {
    const target = Math.round((N * p) / parts);
    let at = cuts[cuts.length - 1]!;
    // advance whole units (or single padding rows) while that brings the cut closer to target
    while (at < target) {
      while (u < units.length && units[u]![1] <= at) u++;
      const inside = u < units.length && units[u]![0] <= at;
      const next = inside ? units[u]![1] : u < units.length ? Math.min(units[u]![0], at + 1) : at + 1;
      if (next - target > target - at) break;
      at = next;
    }
    if (at > cuts[cuts.length - 1]! && at < N) cuts.push(at);
  }
  cuts.push(N);
  const out: BatchPart[] = [];
  for (let i = 0; i + 1 < cuts.length; i++) out.push(rowRange(batch, cuts[i]!, cuts[i + 1]!));
  return out;
}

function rowRange(batch: RunnerBatch, r0: number, r1: number): BatchPart {
  const seqs: RunnerSeq[] = batch.seqs.filter((s) => s.queryStart >= r0 && s.queryStart < r1).map((s) => ({ ...s, queryStart: s.queryStart - r0 }));
  const sampleRows: number[] = [];
  const outputIndex: number[] = [];
  batch.sampleRows.forEach((r, i) => {
    if (r >= r0 && r < r1) sampleRows.push(r - r0), outputIndex.push(i);
  });
  return {
    batch: {
      tokenIds: batch.tokenIds.slice(r0, r1),
      positions: batch.positions.slice(r0, r1),
      slotMapping: batch.slotMapping.slice(r0, r1),
      seqs,
      sampleRows: Int32Array.from(sampleRows),
    },
    outputIndex,
  };
}
