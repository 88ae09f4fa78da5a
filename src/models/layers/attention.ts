import * as tf from '@tensorflow/tfjs-core';
import type { Layer, ModelConfig } from '../types.ts';
import { linear } from '../ops.ts';
import { fusedCausalAttention, fusedRmsNorm } from '../fused/index.ts';
import { cachedRope } from './constants.ts';

/**
 * The attention branch of decoder block i: o_proj(attn(rope(q), rope(k), v)) over
 * input_layernorm(x); the executor adds it to x (residual layer). Grouped-query attention: each
 * of the Hkv key/value heads serves G = H / Hkv query heads (no key/value head is copied).
 * Norm and attention are fused ops (src/models/fused): native kernels with their own backward
 * where the addon is live, tfjs compositions otherwise.
 */
export function attentionLayer(config: ModelConfig, i: number): Layer {
  const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: Dh, rmsNormEps: eps } = config;
  const pre = `model.layers.${i}`;
  const n = {
    norm: `${pre}.input_layernorm.weight`,
    q: `${pre}.self_attn.q_proj.weight`,
    k: `${pre}.self_attn.k_proj.weight`,
    v: `${pre}.self_attn.v_proj.weight`,
    o: `${pre}.self_attn.o_proj.weight`,
  };
  const init = { kind: 'normal', std: config.initStd } as const;
  // Residual projections scaled down by √(2L), as GPT-2 does, so deep stacks start stable.
  const outInit = { kind: 'normal', std: config.initStd / Math.sqrt(2 * config.numLayers) } as const;
  return {
    name: `layers.${i}.attn`,
    input: 'hidden',
    residual: true,
    params: [
      { name: n.norm, shape: [D], init: { kind: 'ones' }, tpDim: null },
      { name: n.q, shape: [H * Dh, D], init, tpDim: 0, tpUnit: Dh },
      { name: n.k, shape: [Hkv * Dh, D], init, tpDim: 0, tpUnit: Dh },
      { name: n.v, shape: [Hkv * Dh, D], init, tpDim: 0, tpUnit: Dh },
      { name: n.o, shape: [D, H * Dh], init: outInit, tpDim: 1, tpUnit: Dh },
    ],
    forward(p, x, ctx) {
      const [B, T] = x.shape as [number, number, number];
      const h = fusedRmsNorm(tf.reshape(x, [B * T, D]) as tf.Tensor2D, p[n.norm]!, eps); // [B·T, D]
      const q = tf.reshape(linear(h, p[n.q]!), [B, T, H, Dh]) as tf.Tensor4D; // [B, T, H, Dh]
      const k = tf.reshape(linear(h, p[n.k]!), [B, T, Hkv, Dh]) as tf.Tensor4D; // [B, T, Hkv, Dh]
      const v = tf.reshape(linear(h, p[n.v]!), [B, T, Hkv, Dh]) as tf.Tensor4D; // [B, T, Hkv, Dh]
      const rope = { tables: cachedRope(config, ctx.positionOffset, T), style: config.ropeStyle };
      const att = fusedCausalAttention(q, k, v, rope); // [B, T, H, Dh], rope applied to q and k inside
      const out = linear(tf.reshape(att, [B * T, H * Dh]) as tf.Tensor2D, p[n.o]!); // [B·T, D]
      return tf.reshape(out, [B, T, D]); // the branch: the executor adds x (applyLayer)
    },
  };
}
