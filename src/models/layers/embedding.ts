import * as tf from '@tensorflow/tfjs-core';
import type { Layer, ModelConfig } from '../types.ts';

export const EMBED = 'model.embed_tokens.weight';

/**
 * Token embedding: ids int32 [B, T] → hidden [B, T, D].
 * `vocabStart` > 0 or a vocabulary slice (tensor parallelism, config.vocabSize = the slice's rows):
 * this layer holds rows [vocabStart, vocabStart + V) and gives zeros for the other ids, so the
 * sum over the ranks' outputs is the full embedding (Megatron's VocabParallelEmbedding).
 */
export function embeddingLayer(config: ModelConfig, vocabStart?: number): Layer {
  const { vocabSize: V, hiddenSize: D } = config;
  if (vocabStart !== undefined) return vocabSliceEmbedding(config, vocabStart);
  return {
    name: 'embed_tokens',
    input: 'ids',
    params: [{ name: EMBED, shape: [V, D], init: { kind: 'normal', std: config.initStd }, tpDim: 0 }],
    forward(p, ids) {
      const w = p[EMBED]!; // [V, D]
      return tf.gather(w, ids as tf.Tensor2D); // [B, T, D]
    },
  };
}

function vocabSliceEmbedding(config: ModelConfig, start: number): Layer {
  const { vocabSize: V, hiddenSize: D } = config;
  return {
    name: 'embed_tokens',
    input: 'ids',
    params: [{ name: EMBED, shape: [V, D], init: { kind: 'normal', std: config.initStd }, tpDim: 0 }],
    forward(p, ids) {
      const w = p[EMBED]!; // [V, D], rows [start, start + V) of the full table
      const local = tf.sub(ids, tf.scalar(start, 'int32'));
      const inside = tf.logicalAnd(tf.greaterEqual(local, 0), tf.less(local, V)); // [B, T]
      const rows = tf.gather(w, tf.where(inside, local, tf.zerosLike(local)) as tf.Tensor2D); // [B, T, D]
      return tf.mul(rows, tf.expandDims(tf.cast(inside, 'float32'), -1));
    },
  };
}
