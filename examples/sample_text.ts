/**
 * Sampled continuations from the training engine's weights: temperature and top-k over the last
 * position's logits, recomputing the whole prefix per token (no KV cache; fine for a few lines
 * from a small model; `ds serve` is the fast path).
 */
import * as tf from '@tensorflow/tfjs-core';
import { Rng } from '../src/data/rng.ts';
import type { Engine } from '../src/runtime/engine/engine.ts';
import { forwardLogits, uploadParams } from '../src/runtime/engine/executor.ts';

export interface SampleOptions {
  readonly maxNewTokens: number;
  readonly temperature: number;
  readonly topK: number;
  readonly seed: number;
  readonly eosId: number | null;
}

/** One sampled continuation per prompt (token ids, prompt excluded, stops at eos). */
export function sampleContinuations(engine: Engine, prompts: readonly number[][], o: SampleOptions): number[][] {
  const rng = new Rng(o.seed);
  const params = uploadParams(engine.flat);
  const maxLen = engine.model.config.maxPositionEmbeddings;
  try {
    return prompts.map((prompt) => {
      const seq = [...prompt];
      const out: number[] = [];
      while (out.length < o.maxNewTokens) {
        const ctx = seq.slice(-maxLen); // [T] at most the trained context
        const last = tf.tidy(() => {
          const logits = forwardLogits(engine.model, params, tf.tensor2d(ctx, [1, ctx.length], 'int32')); // [1, T, V]
          return tf.reshape(tf.slice(logits, [0, ctx.length - 1, 0], [1, 1, -1]), [-1]); // [V]
        });
        const logits = last.dataSync() as Float32Array;
        last.dispose();
        const id = sampleTopK(logits, o.temperature, o.topK, rng);
        if (o.eosId !== null && id === o.eosId) break;
        seq.push(id);
        out.push(id);
      }
      return out;
    });
  } finally {
    tf.dispose([...params.values()]);
  }
}

/** Draw from softmax(logits / temperature) restricted to the topK largest logits. */
function sampleTopK(logits: Float32Array, temperature: number, topK: number, rng: Rng): number {
  const ids = Array.from(logits.keys()).sort((a, b) => logits[b]! - logits[a]!).slice(0, Math.max(1, topK));
  const top = logits[ids[0]!]!;
  const w = ids.map((i) => Math.exp((logits[i]! - top) / temperature));
  let u = rng.next() * w.reduce((a, b) => a + b, 0);
  for (let k = 0; k < ids.length; k++) {
    u -= w[k]!;
    if (u <= 0) return ids[k]!;
  }
  return ids[ids.length - 1]!;
}
