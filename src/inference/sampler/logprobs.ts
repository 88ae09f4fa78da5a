/**
 * Logprobs as vLLM returns them by default (`logprobs_mode = raw_logprobs`): the log-softmax of
 * the model's raw logits, before logit_bias, penalties, temperature and truncation. So a
 * logprob says what the model thought, whatever the request did to the sampling.
 */
import { topKIndices } from './select.ts';

export interface TokenLogprob {
  readonly id: number;
  readonly logprob: number;
}

export interface SampleLogprobs {
  /** Logprob of the sampled token. */
  readonly logprob: number;
  /** 1 + the number of tokens with a strictly larger raw logit (vLLM's rank). */
  readonly rank: number;
  /** The `n` most likely tokens, best first (ties: lower id). */
  readonly top: readonly TokenLogprob[];
}

/** log Σ exp(raw) over raw[0..V), in float64. */
export function logSumExp(raw: ArrayLike<number>, vocabSize: number): number {
  let m = -Infinity;
  for (let i = 0; i < vocabSize; i++) if (raw[i]! > m) m = raw[i]!;
  if (m === -Infinity) return -Infinity;
  let z = 0;
  for (let i = 0; i < vocabSize; i++) z += Math.exp(raw[i]! - m);
  return m + Math.log(z);
}

/** Logprobs of token `tokenId` and the top `n`, from one row of raw logits [V]; cand/heap are scratch of length ≥ n. */
export function sampleLogprobs(raw: Float32Array, tokenId: number, n: number, cand: Int32Array, heap: Int32Array): SampleLogprobs {
  const vocabSize = raw.length;
  const lse = logSumExp(raw, vocabSize);
  const mine = raw[tokenId]!;
  let rank = 1;
  for (let i = 0; i < vocabSize; i++) if (raw[i]! > mine) rank++;
  const k = n > 0 ? topKIndices(raw, vocabSize, n, cand, heap) : 0;
  const top: TokenLogprob[] = [];
  for (let i = 0; i < k; i++) top.push({ id: cand[i]!, logprob: raw[cand[i]!]! - lse });
  return { logprob: mine - lse, rank, top };
}
