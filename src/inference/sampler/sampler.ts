/**
 * The sampler: one next token per sequence from the last-token logits of a batch.
 *
 *   logits [numSeqs, V] (float32, read only)
 *     → row copy (float64) → logit_bias → min_tokens → repetition / frequency / presence
 *     → temperature 0: argmax (lowest id on ties)
 *     → else: / temperature → top_k → top_p → min_p → draw with the sequence's own generator
 *   logprobs come from the raw row (see logprobs.ts).
 * top_k → top_p → min_p is HF's order (vLLM v1 applies min_p first; the two differ only when
 * both top_p and min_p are set, since top_p is measured after what min_p removed).
 *
 * Each row is processed on its own with its own generator, so a sequence's tokens do not
 * depend on what else is in the batch. Scratch buffers of length V are allocated once.
 */
import { assert } from '../../errors.ts';
import type { SamplerRng } from './generator.ts';
import { sampleLogprobs, type SampleLogprobs } from './logprobs.ts';
import { isGreedy, type SamplingParams } from './params.ts';
import { applyLogitBias, applyMinTokens, applyPenalties, PenaltyScratch } from './processors.ts';
import { argmax } from './select.ts';
import { draw, truncate, TruncateScratch } from './truncate.ts';

export interface SamplerSeq {
  readonly params: SamplingParams;
  readonly promptTokenIds: ArrayLike<number>;
  readonly outputTokenIds: ArrayLike<number>;
  readonly generator: SamplerRng;
}

export interface SampledToken {
  readonly tokenId: number;
  /** Present when the request asked for logprobs (params.logprobs !== null). */
  readonly logprobs: SampleLogprobs | null;
}

export interface SamplerOptions {
  readonly vocabSize: number;
  /** Masked by min_tokens along with the stop token ids. */
  readonly eosTokenId: number | null;
  /** The end-of-turn tokens beside eos (engine/end_tokens.ts), masked by min_tokens too. */
  readonly endTokenIds?: readonly number[];
}

export class Sampler {
  readonly vocabSize: number;
  readonly eosTokenId: number | null;
  readonly endTokenIds: readonly number[];
  private readonly row: Float64Array;
  private readonly penalty: PenaltyScratch;
  private readonly trunc: TruncateScratch;

  constructor(opts: SamplerOptions) {
    assert(Number.isInteger(opts.vocabSize) && opts.vocabSize > 0, () => `Sampler: vocabSize must be a positive integer, got ${opts.vocabSize}`);
    assert(opts.eosTokenId === null || (opts.eosTokenId >= 0 && opts.eosTokenId < opts.vocabSize), () => `Sampler: eosTokenId ${opts.eosTokenId} is outside the vocabulary of ${opts.vocabSize}`);
    this.vocabSize = opts.vocabSize;
    this.eosTokenId = opts.eosTokenId;
    this.endTokenIds = opts.endTokenIds ?? [];
    this.row = new Float64Array(opts.vocabSize);
    this.penalty = new PenaltyScratch(opts.vocabSize);
    this.trunc = new TruncateScratch(opts.vocabSize);
  }

  /** logits: [seqs.length, V] row-major. */
  sample(logits: Float32Array, seqs: readonly SamplerSeq[]): SampledToken[] {
    const V = this.vocabSize;
    assert(logits.length === seqs.length * V, () => `Sampler.sample: logits has ${logits.length} values, expected ${seqs.length} sequences × vocab ${V} = ${seqs.length * V}`);
    const out: SampledToken[] = [];
    for (let s = 0; s < seqs.length; s++) {
      const seq = seqs[s]!;
      const raw = logits.subarray(s * V, (s + 1) * V); // [V]
      const tokenId = this.sampleRow(raw, seq);
      const lp = seq.params.logprobs === null ? null : sampleLogprobs(raw, tokenId, seq.params.logprobs, this.trunc.cand, this.trunc.heap);
      out.push({ tokenId, logprobs: lp });
    }
    return out;
  }

  /** The processed row of logits (float64) for one sequence, before temperature: for tests and debugging. */
  processedLogits(raw: Float32Array, seq: SamplerSeq): Float64Array {
    this.process(raw, seq);
    return this.row.slice();
  }

  private process(raw: Float32Array, seq: SamplerSeq): void {
    const row = this.row;
    row.set(raw);
    applyLogitBias(row, seq.params);
    applyMinTokens(row, seq.params, seq.outputTokenIds.length, this.eosTokenId, this.endTokenIds);
    applyPenalties(row, seq.params, seq.promptTokenIds, seq.outputTokenIds, this.penalty);
  }

  private sampleRow(raw: Float32Array, seq: SamplerSeq): number {
    const V = this.vocabSize;
    const row = this.row;
    this.process(raw, seq);
    if (isGreedy(seq.params)) return argmax(row, V);
    const t = seq.params.temperature;
    if (t !== 1) for (let i = 0; i < V; i++) row[i] = row[i]! / t;
    const kept = truncate(row, V, seq.params, this.trunc);
    return draw(this.trunc.w, kept < 0 ? null : this.trunc.cand, kept < 0 ? V : kept, seq.generator);
  }
}
