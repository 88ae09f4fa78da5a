import * as tf from '@tensorflow/tfjs-core';
import { applyRope, type RopeTables } from '../ops.ts';
import { cachedCausalMask } from '../layers/constants.ts';
import { checkShapes, customOp, fusedLive, runNative } from './native.ts';

/** Rope as the attention applies it to q and k: the tables for the T positions and the pairing. */
export interface AttentionRope {
  readonly tables: RopeTables;
  readonly style: 'half' | 'adjacent';
}

/**
 * Causal grouped-query attention with rotary embeddings:
 *   q [B, T, H, Dh], k, v [B, T, Hkv, Dh] (as the projections give them, before rope) → [B, T, H, Dh],
 * out_i = softmax_j≤i(rope(q_i) · rope(k_j) / √Dh) · v_j; query head h reads kv head h / (H / Hkv).
 * Native: flash-attention style (native/fused_attention.c): scores exist one tile of query rows at
 * a time, the forward saves each query's log-sum-exp [B, H, T] and the backward rebuilds the tiles
 * from it; rope and the head layout are handled inside, so no transpose or [T, T] tensor is made.
 */
export function fusedCausalAttention(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, rope: AttentionRope): tf.Tensor4D {
  const [B, T, H, Dh] = q.shape;
  const Hkv = k.shape[2];
  const want = `[${B}, ${T}, Hkv, ${Dh}]`;
  checkShapes(k.shape[0] === B && k.shape[1] === T && k.shape[3] === Dh && v.shape.every((d, i) => d === k.shape[i]), 'fusedCausalAttention',
    () => `q [${q.shape}] wants k and v of ${want}, got k [${k.shape}], v [${v.shape}]`);
  checkShapes(H % Hkv === 0, 'fusedCausalAttention', () => `kv heads ${Hkv} must divide query heads ${H}`);
  const { cos, sin } = rope.tables;
  checkShapes(cos.shape[0] === T && cos.shape[1] === Dh, 'fusedCausalAttention', () => `rope tables [${cos.shape}] do not cover [T, Dh] = [${T}, ${Dh}]`);
  if (!fusedLive()) return causalAttentionTf(q, k, v, rope);
  const ropeStyle = rope.style === 'half' ? 1 : 2;
  const f = customOp(([qi, ki, vi], save) => {
    const [o, lse] = runNative('DsAttention', { q: qi!, k: ki!, v: vi!, cos, sin }, { ropeStyle });
    save([qi!, ki!, vi!, cos, sin, o!, lse!]);
    return {
      value: o!,
      gradFunc: (dy, [sq, sk, sv, sc, ss, so, sl]) =>
        runNative('DsAttentionGrad', { q: sq!, k: sk!, v: sv!, cos: sc!, sin: ss!, o: so!, lse: sl!, dout: dy }, { ropeStyle }),
    };
  });
  return f(q, k, v) as tf.Tensor4D;
}

/**
 * The tfjs composition. Queries are grouped as [B·Hkv, G·T, Dh] so that no key/value head is
 * copied per query head (G = H / Hkv).
 */
export function causalAttentionTf(q: tf.Tensor4D, k: tf.Tensor4D, v: tf.Tensor4D, rope: AttentionRope): tf.Tensor4D {
  const [B, T, H, Dh] = q.shape;
  const Hkv = k.shape[2];
  const G = H / Hkv;
  const qr = applyRope(q, rope.tables); // [B, T, H, Dh]
  const kr = applyRope(k, rope.tables); // [B, T, Hkv, Dh]
  // [B, T, Hkv, G, Dh] → [B, Hkv, G, T, Dh] → [B·Hkv, G·T, Dh]
  const qg = tf.reshape(tf.transpose(tf.reshape(qr, [B, T, Hkv, G, Dh]), [0, 2, 3, 1, 4]), [B * Hkv, G * T, Dh]);
  const kh = tf.reshape(tf.transpose(kr, [0, 2, 1, 3]), [B * Hkv, T, Dh]); // [B·Hkv, T, Dh]
  const vh = tf.reshape(tf.transpose(v, [0, 2, 1, 3]), [B * Hkv, T, Dh]); // [B·Hkv, T, Dh]
  const scores = tf.mul(tf.matMul(qg, kh, false, true), 1 / Math.sqrt(Dh)); // [B·Hkv, G·T, T]
  const masked = tf.add(tf.reshape(scores, [B * H, T, T]), cachedCausalMask(T)); // [B·H, T, T]
  const probs = tf.reshape(tf.softmax(masked), [B * Hkv, G * T, T]);
  const att = tf.matMul(probs, vh); // [B·Hkv, G·T, Dh]
  // [B, Hkv, G, T, Dh] → [B, T, Hkv, G, Dh] → [B, T, H, Dh]
  return tf.reshape(tf.transpose(tf.reshape(att, [B, Hkv, G, T, Dh]), [0, 3, 1, 2, 4]), [B, T, H, Dh]);
}
