import * as tf from '@tensorflow/tfjs-core';
import type { Layer, ModelConfig } from '../types.ts';

export const EMBED = 'model.embed_tokens.weight';

/** Token embedding: ids int32 [B, T] → hidden [B, T, D]. */
export function embeddingLayer(config: ModelConfig): Layer {
  const { vocabSize: V, hiddenSize: D } = config;
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
