import * as tf from '@tensorflow/tfjs-core';
import { checkShapes, customOp, fusedLive, runNative } from './native.ts';

/**
 * Masked mean cross-entropy, Σ_i mask_i · (logsumexp(logits_i) − logits_i[target_i]) / denominator;
 * logits [N, V], targets int32 [N], mask float32 [N] → scalar. A target outside [0, V) picks
 * nothing (its row's loss is the log-sum-exp), as tf.oneHot does.
 * Native: one pass forward (saving each row's log-sum-exp), one backward,
 *   dlogits = dy · mask_i / denominator · (softmax_i − onehot(target_i)),
 * with no [N, V] one-hot or softmax kept between them.
 */
export function fusedCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, mask: tf.Tensor1D, denominator: number): tf.Scalar {
  const [N] = logits.shape;
  checkShapes(targets.shape[0] === N && mask.shape[0] === N, 'fusedCrossEntropy', () => `logits [${logits.shape}], targets [${targets.shape}] and mask [${mask.shape}] must share N`);
  checkShapes(targets.dtype === 'int32', 'fusedCrossEntropy', () => `targets must be int32, got ${targets.dtype}`);
  if (!fusedLive()) return crossEntropyTf(logits, targets, mask, denominator);
  const f = customOp(([l], save) => {
    const [lse, rows] = runNative('DsCrossEntropy', { logits: l!, targets, mask });
    save([l!, lse!, targets, mask]);
    return {
      value: tf.div(tf.sum(rows!), denominator),
      gradFunc: (dy, [sl, slse, st, sm]) => {
        // dy is the scalar upstream gradient (1 under valueAndGrads of the loss).
        const scale = dy.dataSync()[0]! / denominator;
        return runNative('DsCrossEntropyGrad', { logits: sl!, targets: st!, mask: sm!, lse: slse! }, { scale });
      },
    };
  });
  return f(logits) as tf.Scalar;
}

/** The tfjs composition. */
export function crossEntropyTf(logits: tf.Tensor2D, targets: tf.Tensor1D, mask: tf.Tensor1D, denominator: number): tf.Scalar {
  const V = logits.shape[1];
  const lse = tf.logSumExp(logits, -1); // [N]
  const picked = tf.sum(tf.mul(logits, tf.oneHot(targets, V)), -1); // [N]
  return tf.div(tf.sum(tf.mul(tf.sub(lse, picked), mask)), denominator) as tf.Scalar;
}
