import * as tf from '@tensorflow/tfjs-core';
import type { Layer, ModelConfig } from '../types.ts';
import { linear } from '../ops.ts';
import { fusedRmsNorm } from '../fused/index.ts';
import { EMBED } from './embedding.ts';

export const LM_HEAD = 'lm_head.weight';
export const FINAL_NORM = 'model.norm.weight';

/** Final RMSNorm and LM head: hidden [B, T, D] → logits [B, T, V]. Tied: the head is the embedding. */
export function lmHeadLayer(config: ModelConfig): Layer {
  const { hiddenSize: D, vocabSize: V, rmsNormEps: eps } = config;
  const head = config.tieWordEmbeddings ? EMBED : LM_HEAD;
  return {
    name: 'lm_head',
    input: 'hidden',
    params: [
      { name: FINAL_NORM, shape: [D], init: { kind: 'ones' }, tpDim: null },
      { name: head, shape: [V, D], init: { kind: 'normal', std: config.initStd }, tpDim: 0 },
    ],
    forward(p, x) {
      const [B, T] = x.shape as [number, number, number];
      const h = fusedRmsNorm(tf.reshape(x, [B * T, D]) as tf.Tensor2D, p[FINAL_NORM]!, eps); // [B·T, D]
      return tf.reshape(linear(h, p[head]!), [B, T, V]); // [B, T, V]
    },
  };
}
