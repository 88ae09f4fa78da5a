/**
 * Loss and perplexity over a whole split: each rank scores its share of the rows (the loader's
 * evalBatches: every row once over all ranks), and an optional `sum` adds the ranks' totals.
 *
 *   loss = Σ_batches mean_loss(batch) · tokens(batch) / Σ tokens      perplexity = exp(loss)
 *
 * where tokens(batch) is the mask's sum, so the result is the mean over every target token of
 * the split, whatever the micro-batch size and however many ranks share it.
 */
import { InputError } from '../../errors.ts';
import type { TokenBatch, TrainingData } from './loader.ts';

export interface EvaluateOptions {
  /** Adds [lossSum, tokens] over the ranks (an all-reduce); omit on one rank. */
  readonly sum?: (values: Float64Array) => Promise<ArrayLike<number>>;
  /** Score only the first maxBatches micro-batches of each rank (the same on every rank). */
  readonly maxBatches?: number;
}

export interface EvaluateResult {
  /** Mean cross-entropy per target token, in nats. */
  readonly loss: number;
  readonly perplexity: number;
  /** Target tokens scored (over all ranks when `sum` is given). */
  readonly tokens: number;
}

/**
 * `lossOf(mb)` is the mean masked loss of one micro-batch with no update (engine.evalLoss). It is
 * called the same number of times on every rank, also for batches that are all padding.
 */
export async function evaluateLoss(
  loader: TrainingData,
  lossOf: (mb: TokenBatch) => number | Promise<number>,
  opts: EvaluateOptions = {},
): Promise<EvaluateResult> {
  const max = opts.maxBatches ?? Infinity;
  if (max !== Infinity && (!Number.isInteger(max) || max < 1)) throw new InputError(`evaluateLoss: maxBatches must be a positive integer, got ${max}`);
  let lossSum = 0;
  let tokens = 0;
  for (const mb of loader.evalBatches(max)) {
    let n = 0;
    for (let i = 0; i < mb.mask.length; i++) n += mb.mask[i]!;
    const loss = await lossOf(mb);
    if (n > 0) {
      lossSum += loss * n;
      tokens += n;
    }
  }
  if (opts.sum) {
    const total = await opts.sum(Float64Array.of(lossSum, tokens));
    lossSum = total[0]!;
    tokens = total[1]!;
  }
  if (tokens === 0) throw new InputError(`evaluateLoss: no tokens to score in the ${loader.split} split of ${loader.dataset.dir}`);
  const loss = lossSum / tokens;
  return { loss, perplexity: Math.exp(loss), tokens };
}
