import * as tf from '@tensorflow/tfjs-core';
import { checkShapes, customOp, fusedLive, runNative } from './native.ts';

/**
 * SwiGLU's gate, silu(g) ⊙ u = g · σ(g) ⊙ u, for g, u of one shape ([N, F]).
 * Native: one pass each way; dg = dy · u · σ(g) · (1 + g · (1 − σ(g))), du = dy · g · σ(g).
 */
export function fusedSwiGlu(g: tf.Tensor2D, u: tf.Tensor2D): tf.Tensor2D {
  checkShapes(g.shape.length === u.shape.length && g.shape.every((d, i) => d === u.shape[i]), 'fusedSwiGlu', () => `gate [${g.shape}] and up [${u.shape}] differ`);
  if (!fusedLive()) return swiGluTf(g, u);
  const f = customOp(([gi, ui], save) => {
    save([gi!, ui!]);
    return {
      value: runNative('DsSwiGlu', { g: gi!, u: ui! })[0]!,
      gradFunc: (dy, [sg, su]) => runNative('DsSwiGluGrad', { g: sg!, u: su!, dy }),
    };
  });
  return f(g, u) as tf.Tensor2D;
}

/** The tfjs composition. */
export function swiGluTf(g: tf.Tensor2D, u: tf.Tensor2D): tf.Tensor2D {
  return tf.mul(tf.mul(g, tf.sigmoid(g)), u) as tf.Tensor2D;
}
