import * as tf from '@tensorflow/tfjs-core';
import '../runtime/tf_gradients.ts';
import type { ForwardCtx, Layer, ModelConfig, ParamMap } from './types.ts';

/** The layer's output on one rank holding all of it: forward, plus the input for a residual layer. */
export function applyLayer(layer: Layer, params: ParamMap, x: tf.Tensor, ctx: ForwardCtx): tf.Tensor {
  if (!layer.residual) return layer.forward(params, x, ctx);
  return tf.tidy(() => tf.add(x, layer.forward(params, x, ctx)));
}

/** y = x · Wᵀ for an HF-layout weight W [out, in]; x [N, in] → [N, out]. */
export function linear(x: tf.Tensor2D, w: tf.Tensor): tf.Tensor2D {
  return tf.matMul(x, w as tf.Tensor2D, false, true);
}

/** RMSNorm over the last axis: x · rsqrt(mean(x²) + eps) · w. x [N, D], w [D]. */
export function rmsNorm(x: tf.Tensor2D, w: tf.Tensor, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true); // [N, 1]
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w) as tf.Tensor2D;
}

/**
 * Rotary tables for positions [offset, offset + T), laid out per the rope style so that
 *   rope(x) = x ⊙ cos + (x · P) ⊙ sin
 * with P a fixed signed permutation [Dh, Dh]. One code path serves both conventions:
 *   half:     pairs (i, i + Dh/2)   (HF Llama, rotate-half)
 *   adjacent: pairs (2i, 2i + 1)    (llama.cpp's GGUF llama)
 * Pair j rotates by angle pos · θ^(−2j/Dh); in each pair (a, b): a' = a·c − b·s, b' = b·c + a·s.
 */
export interface RopeTables {
  readonly cos: tf.Tensor2D; // [T, Dh]
  readonly sin: tf.Tensor2D; // [T, Dh]
  readonly rot: tf.Tensor2D; // [Dh, Dh]
}

export function ropeTables(config: ModelConfig, offset: number, T: number): RopeTables {
  const dh = config.headDim;
  const half = dh / 2;
  const cos = new Float32Array(T * dh);
  const sin = new Float32Array(T * dh);
  const rot = new Float32Array(dh * dh);
  for (let j = 0; j < half; j++) {
    const [a, b] = config.ropeStyle === 'half' ? [j, j + half] : [2 * j, 2 * j + 1];
    const invFreq = Math.pow(config.ropeTheta, (-2 * j) / dh);
    for (let t = 0; t < T; t++) {
      const ang = (offset + t) * invFreq;
      const c = Math.cos(ang);
      const s = Math.sin(ang);
      cos[t * dh + a] = c;
      cos[t * dh + b] = c;
      sin[t * dh + a] = s;
      sin[t * dh + b] = s;
    }
    // (x·P)[a] = −x[b], (x·P)[b] = x[a]; P[row=in, col=out].
    rot[b * dh + a] = -1;
    rot[a * dh + b] = 1;
  }
  return {
    cos: tf.tensor2d(cos, [T, dh]),
    sin: tf.tensor2d(sin, [T, dh]),
    rot: tf.tensor2d(rot, [dh, dh]),
  };
}

/** Applies rope to x [B, T, Hx, Dh] with tables for T positions. */
export function applyRope(x: tf.Tensor4D, r: RopeTables): tf.Tensor4D {
  const [B, T, Hx, Dh] = x.shape;
  const rotated = tf.reshape(tf.matMul(tf.reshape(x, [B * T * Hx, Dh]), r.rot), [B, T, Hx, Dh]);
  const cos = tf.reshape(r.cos, [1, T, 1, Dh]);
  const sin = tf.reshape(r.sin, [1, T, 1, Dh]);
  return tf.add(tf.mul(x, cos), tf.mul(rotated, sin)) as tf.Tensor4D;
}

/** Additive causal mask [T, T]: 0 where key ≤ query, −1e9 above the diagonal. */
export function causalMask(T: number): tf.Tensor2D {
  const m = new Float32Array(T * T);
  for (let i = 0; i < T; i++) for (let j = i + 1; j < T; j++) m[i * T + j] = -1e9;
  return tf.tensor2d(m, [T, T]);
}
