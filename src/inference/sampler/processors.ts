/**
 * The logits processors that run before temperature, each in place on one row of float64
 * logits [V]. Order (vLLM's): logit_bias, min_tokens, repetition penalty, frequency and
 * presence penalties. They touch only the ids a request names, so each is O(tokens), not O(V).
 */
import { assert } from '../../errors.ts';
import type { SamplingParams } from './params.ts';

/** Adds each bias to its token's logit (OpenAI's logit_bias). */
export function applyLogitBias(row: Float64Array, params: SamplingParams): void {
  for (const [id, bias] of params.logitBias) row[id] = row[id]! + bias;
}

/** Before `minTokens` output tokens exist, eos and the stop token ids cannot be sampled. */
export function applyMinTokens(row: Float64Array, params: SamplingParams, numOutput: number, eosTokenId: number | null, endTokenIds: readonly number[] = []): void {
  if (numOutput >= params.minTokens) return;
  if (eosTokenId !== null) row[eosTokenId] = -Infinity;
  for (const id of endTokenIds) row[id] = -Infinity;
  for (const id of params.stopTokenIds) row[id] = -Infinity;
}

/** Scratch for the penalties: counts and marks of length V, left all zero after each call. */
export class PenaltyScratch {
  readonly counts: Int32Array;
  readonly seen: Uint8Array;
  constructor(readonly vocabSize: number) {
    this.counts = new Int32Array(vocabSize);
    this.seen = new Uint8Array(vocabSize);
  }
}

function checkIds(ids: ArrayLike<number>, what: string, vocabSize: number): void {
  for (let i = 0; i < ids.length; i++) {
    const t = ids[i]!;
    assert(t >= 0 && t < vocabSize && Number.isInteger(t), () => `sampler: ${what}[${i}] = ${t} is outside the vocabulary of ${vocabSize}`);
  }
}

/**
 * Repetition penalty (HF / vLLM): every token seen in prompt or output has a positive logit
 * divided by r and a negative one multiplied by r. Then, over output tokens only (OpenAI):
 * logit -= frequency_penalty * count + presence_penalty * (count > 0).
 */
export function applyPenalties(row: Float64Array, params: SamplingParams, prompt: ArrayLike<number>, output: ArrayLike<number>, s: PenaltyScratch): void {
  const r = params.repetitionPenalty;
  const f = params.frequencyPenalty;
  const p = params.presencePenalty;
  if (r === 1 && f === 0 && p === 0) return;
  checkIds(prompt, 'prompt token ids', s.vocabSize);
  checkIds(output, 'output token ids', s.vocabSize);
  if (r !== 1) {
    const seen = s.seen;
    for (const list of [prompt, output]) {
      for (let i = 0; i < list.length; i++) {
        const t = list[i]!;
        if (seen[t] !== 0) continue;
        seen[t] = 1;
        const x = row[t]!;
        row[t] = x > 0 ? x / r : x * r;
      }
    }
    for (const list of [prompt, output]) for (let i = 0; i < list.length; i++) seen[list[i]!] = 0;
  }
  if (f !== 0 || p !== 0) {
    const counts = s.counts;
    for (let i = 0; i < output.length; i++) counts[output[i]!]!++;
    for (let i = 0; i < output.length; i++) {
      const t = output[i]!;
      const c = counts[t]!;
      if (c === 0) continue; // already applied for this token
      row[t] = row[t]! - f * c - p;
      counts[t] = 0;
    }
  }
}
