import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../models/types.ts';
import { drive, driveSync, forwardLogits, readTensor, type Step } from './executor.ts';

/**
 * Greedy decoding for evaluation during training: recomputes the whole prefix at every new token
 * (no KV cache; the serving engine in src/inference is the fast path). Prompts of equal length are
 * batched together, so no padding enters the attention. Synchronous where the backend reads
 * synchronously (wasm, cpu, tensorflow); greedyGenerateAsync runs everywhere (webgpu included).
 */
export function greedyGenerate(model: Model, params: Map<string, tf.Tensor>, prompts: readonly number[][], opts: GreedyOptions): number[][] {
  return driveSync(greedySteps(model, params, prompts, opts), 'generate');
}

export function greedyGenerateAsync(model: Model, params: Map<string, tf.Tensor>, prompts: readonly number[][], opts: GreedyOptions): Promise<number[][]> {
  return drive(greedySteps(model, params, prompts, opts));
}

export interface GreedyOptions {
  readonly maxNewTokens: number;
  readonly eosId: number | null;
  readonly batchSize?: number;
}

/** The decoding loop; it waits (yields) only where reading the next ids from the backend does. */
function* greedySteps(model: Model, params: Map<string, tf.Tensor>, prompts: readonly number[][], opts: GreedyOptions): Step<number[][]> {
  const out: number[][] = prompts.map(() => []);
  const byLen = new Map<number, number[]>();
  prompts.forEach((p, i) => byLen.set(p.length, [...(byLen.get(p.length) ?? []), i]));
  const maxLen = model.config.maxPositionEmbeddings;
  for (const [len, all] of byLen) {
    const bs = opts.batchSize ?? 64;
    for (let s = 0; s < all.length; s += bs) {
      const idx = all.slice(s, s + bs);
      const seqs = idx.map((i) => [...prompts[i]!]);
      const done = idx.map(() => false);
      for (let t = 0; t < opts.maxNewTokens && len + t < maxLen && done.some((d) => !d); t++) {
        const T = len + t;
        const next = tf.tidy(() => {
          const ids = tf.tensor2d(seqs.flat(), [seqs.length, T], 'int32');
          const logits = forwardLogits(model, params, ids); // [b, T, V]
          const last = tf.squeeze(tf.slice(logits, [0, T - 1, 0], [-1, 1, -1]), [1]); // [b, V]
          return tf.argMax(last, -1); // [b] int32, read as float32 (exact below 2^24)
        });
        let ids: Float32Array;
        try {
          ids = yield* readTensor(next);
        } finally {
          next.dispose();
        }
        seqs.forEach((seq, j) => {
          const id = ids[j]!;
          seq.push(id);
          if (done[j]) return;
          if (opts.eosId !== null && id === opts.eosId) done[j] = true;
          else out[idx[j]!]!.push(id);
        });
      }
    }
  }
  return out;
}
