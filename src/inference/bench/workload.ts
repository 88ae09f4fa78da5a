import { Rng } from '../../data/rng.ts';

export interface BenchRequest {
  readonly promptTokenIds: readonly number[];
  /** Output tokens it generates (ignore_eos: exactly this many). */
  readonly maxTokens: number;
}

export interface WorkloadOptions {
  readonly numPrompts: number;
  readonly seed: number;
  readonly vocabSize: number;
  readonly minPrompt?: number;
  readonly maxPrompt?: number;
  /** Output lengths are log-normal (long-tailed, as in chat traces) around this median. */
  readonly medianOutput?: number;
  readonly maxOutput?: number;
}

/**
 * A seeded mixed-length workload: prompt lengths uniform in [minPrompt, maxPrompt], output lengths
 * log-normal (σ = 1) clipped to [4, maxOutput]. The long tail is what static batching pays for:
 * a batch lasts as long as its longest member.
 */
export function makeWorkload(o: WorkloadOptions): BenchRequest[] {
  const rng = new Rng(o.seed);
  const minP = o.minPrompt ?? 32;
  const maxP = o.maxPrompt ?? 256;
  const median = o.medianOutput ?? 64;
  const maxOut = o.maxOutput ?? 1024;
  const out: BenchRequest[] = [];
  for (let i = 0; i < o.numPrompts; i++) {
    const len = minP + rng.int(maxP - minP + 1);
    const promptTokenIds = Array.from({ length: len }, () => rng.int(Math.min(o.vocabSize, 256)));
    const maxTokens = Math.max(4, Math.min(maxOut, Math.round(median * Math.exp(rng.normal()))));
    out.push({ promptTokenIds, maxTokens });
  }
  return out;
}
