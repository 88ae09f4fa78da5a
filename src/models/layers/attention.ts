import * as tf from '@tensorflow/tfjs-core';
import type { Layer, ModelConfig } from '../types.ts';
import { applyRope, linear, rmsNorm } from '../ops.ts';
import { cachedCausalMask, cachedRope } from './constants.ts';

/**
 * The attention branch of decoder block i: o_proj(attn(rope(q), rope(k), v)) over
 * input_layernorm(x); the executor adds it to x (residual layer). Grouped-query attention: each of the Hkv key/value heads serves
 * G = H / Hkv query heads, so queries are grouped as [B·Hkv, G·T, Dh] and no key/value
 * head is copied.
 */
export function attentionLayer(config: ModelConfig, i: number): Layer {
  const { hiddenSize: D, numHeads: H, numKvHeads: Hkv, headDim: Dh, rmsNormEps: eps } = config;
  const G = H / Hkv;
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
      const x2 = tf.reshape(x, [B * T, D]) as tf.Tensor2D;
      const h = rmsNorm(x2, p[n.norm]!, eps); // [B·T, D]
      const rope = cachedRope(config, ctx.positionOffset, T);
      const q = applyRope(tf.reshape(linear(h, p[n.q]!), [B, T, H, Dh]), rope); // [B, T, H, Dh]
      const k = applyRope(tf.reshape(linear(h, p[n.k]!), [B, T, Hkv, Dh]), rope); // [B, T, Hkv, Dh]
      const v = tf.reshape(linear(h, p[n.v]!), [B, T, Hkv, Dh]); // [B, T, Hkv, Dh]
      // [B, T, Hkv, G, Dh] → [B, Hkv, G, T, Dh] → [B·Hkv, G·T, Dh]
      const qg = tf.reshape(tf.transpose(tf.reshape(q, [B, T, Hkv, G, Dh]), [0, 2, 3, 1, 4]), [B * Hkv, G * T, Dh]);
      const kh = tf.reshape(tf.transpose(k, [0, 2, 1, 3]), [B * Hkv, T, Dh]); // [B·Hkv, T, Dh]
      const vh = tf.reshape(tf.transpose(v, [0, 2, 1, 3]), [B * Hkv, T, Dh]); // [B·Hkv, T, Dh]
      const scores = tf.mul(tf.matMul(qg, kh, false, true), 1 / Math.sqrt(Dh)); // [B·Hkv, G·T, T]
      const masked = tf.add(tf.reshape(scores, [B * Hkv * G, T, T]), cachedCausalMask(T)); // [B·H, T, T]
      const probs = tf.reshape(tf.softmax(masked), [B * Hkv, G * T, T]);
      const att = tf.matMul(probs, vh); // [B·Hkv, G·T, Dh]
      // [B, Hkv, G, T, Dh] → [B, T, Hkv, G, Dh] → [B·T, H·Dh]
      const merged = tf.reshape(tf.transpose(tf.reshape(att, [B, Hkv, G, T, Dh]), [0, 3, 1, 2, 4]), [B * T, H * Dh]);
      const out = linear(merged as tf.Tensor2D, p[n.o]!); // [B·T, D]
      return tf.reshape(out, [B, T, D]); // the branch: the executor adds x (applyLayer)
    },
  };
}
