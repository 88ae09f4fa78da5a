import * as tf from '@tensorflow/tfjs-core';

/**
 * Mean cross entropy over the positions where mask = 1.
 * logits [N, V], targets int32 [N], mask float32 [N] → scalar.
 * `denominator` lets gradient accumulation and data parallelism divide by the token count of
 * the whole global batch, so the sum over micro-batches and ranks is the global mean.
 */
export function maskedCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, mask: tf.Tensor1D, denominator: number): tf.Scalar {
  const V = logits.shape[1];
  const lse = tf.logSumExp(logits, -1); // [N]
  const picked = tf.sum(tf.mul(logits, tf.oneHot(targets, V)), -1); // [N]
  return tf.div(tf.sum(tf.mul(tf.sub(lse, picked), mask)), denominator) as tf.Scalar;
}
