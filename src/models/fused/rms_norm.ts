import * as tf from '@tensorflow/tfjs-core';
import { checkShapes, customOp, fusedLive, runNative } from './native.ts';

/**
 * RMSNorm over the last axis, y = x · rsqrt(mean(x²) + eps) · w; x [N, D], w [D] → [N, D].
 * Native: one pass forward (saving rstd [N]) and one backward,
 *   dx = rstd · (g − x̂ · mean(g ⊙ x̂)),  g = dy ⊙ w,  x̂ = x · rstd;   dw = Σ_rows dy ⊙ x̂.
 */
export function fusedRmsNorm(x: tf.Tensor2D, w: tf.Tensor, eps: number): tf.Tensor2D {
  const [, D] = x.shape;
  checkShapes(w.shape.length === 1 && w.shape[0] === D, 'fusedRmsNorm', () => `weight [${w.shape}] does not match x [${x.shape}] (wants [${D}])`);
  if (!fusedLive()) return rmsNormTf(x, w, eps);
  const f = customOp(([xi, wi], save) => {
    const [y, rstd] = runNative('DsRmsNorm', { x: xi!, w: wi! }, { eps });
    save([xi!, wi!, rstd!]);
    return {
      value: y!,
      gradFunc: (dy, [sx, sw, sr]) => runNative('DsRmsNormGrad', { x: sx!, w: sw!, rstd: sr!, dy }),
    };
  });
  return f(x, w) as tf.Tensor2D;
}

/** The tfjs composition (the reference, and the path without the native kernels). */
export function rmsNormTf(x: tf.Tensor2D, w: tf.Tensor, eps: number): tf.Tensor2D {
  const ms = tf.mean(tf.square(x), -1, true); // [N, 1]
  return tf.mul(tf.mul(x, tf.rsqrt(tf.add(ms, eps))), w) as tf.Tensor2D;
}
