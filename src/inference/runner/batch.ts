import { assert } from '../../errors.ts';
import type { ScheduledSeq } from '../scheduler/output.ts';

/**
 * One step's ragged batch, flat: every sequence's new tokens back to back, nothing padded.
 *
 *   tokens     [a0 a1 a2 a3 | b7 | c0 c1]     seq a: prefill chunk of 4, b: one decode, c: chunk of 2
 *   positions  [ 0  1  2  3 | 7  |  0  1]
 *   slots      block(pos)·B + pos % B per token, through the sequence's block table
 *   sampleRows [3, 4, 6]                      the last token of each sequence that samples
 */
export interface RunnerSeq {
  readonly queryStart: number;
  readonly queryLen: number;
  /** Tokens in the cache after this step (this step's included). */
  readonly contextLen: number;
  readonly blockTable: Int32Array;
}

export interface RunnerBatch {
  /** N = real tokens, then padding rows (token 0, position 0, slot -1, no sequence, never sampled). */
  readonly tokenIds: Int32Array; // [N]
  readonly positions: Int32Array; // [N]
  readonly slotMapping: Int32Array; // [N]
  readonly seqs: readonly RunnerSeq[];
  /** Rows of the batch whose logits are wanted, in output order. */
  readonly sampleRows: Int32Array;
}

/**
 * The runner's batch for a scheduler step; sampleRows follow `scheduled` order: the last row of a
 * sequence that samples, or every row of a prefill chunk whose sequence is in `allRows` (its
 * prompt logprobs are wanted). `padding` rows are appended (static batching's dense padding:
 * computed, then dropped).
 */
export function buildBatch(scheduled: readonly ScheduledSeq[], blockSize: number, padding = 0, allRows?: ReadonlySet<string>): RunnerBatch {
  const N = scheduled.reduce((n, s) => n + s.numTokens, 0) + padding;
  const tokenIds = new Int32Array(N);
  const positions = new Int32Array(N);
  const slotMapping = new Int32Array(N).fill(-1);
  const seqs: RunnerSeq[] = [];
  const sampleRows: number[] = [];
  let at = 0;
  for (const s of scheduled) {
    assert(s.tokenIds.length === s.numTokens, () => `buildBatch: ${s.seqId} has ${s.tokenIds.length} token ids for ${s.numTokens} tokens`);
    const contextLen = s.startPos + s.numTokens;
    assert(s.blockTable.length * blockSize >= contextLen, () => `buildBatch: ${s.seqId} needs ${contextLen} slots, its block table has ${s.blockTable.length} blocks of ${blockSize}`);
    for (let i = 0; i < s.numTokens; i++) {
      const pos = s.startPos + i;
      tokenIds[at + i] = s.tokenIds[i]!;
      positions[at + i] = pos;
      slotMapping[at + i] = s.blockTable[Math.floor(pos / blockSize)]! * blockSize + (pos % blockSize);
    }
    seqs.push({ queryStart: at, queryLen: s.numTokens, contextLen, blockTable: Int32Array.from(s.blockTable) });
    if (s.isPrefill && allRows?.has(s.seqId)) for (let i = 0; i < s.numTokens; i++) sampleRows.push(at + i);
    else if (s.sample) sampleRows.push(at + s.numTokens - 1);
    at += s.numTokens;
  }
  return { tokenIds, positions, slotMapping, seqs, sampleRows: Int32Array.from(sampleRows) };
}
