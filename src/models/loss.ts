import type * as tf from '@tensorflow/tfjs-core';
import { fusedCrossEntropy } from './fused/index.ts';

/**
 * Mean cross entropy over the positions where mask = 1.
 * logits [N, V], targets int32 [N], mask float32 [N] → scalar.
 * `denominator` lets gradient accumulation and data parallelism divide by the token count of
 * the whole global batch, so the sum over micro-batches and ranks is the global mean.
 * One fused op (src/models/fused/cross_entropy.ts): forward and backward native kernels where the
 * addon is live, tfjs's logSumExp and one-hot otherwise.
 */
export function maskedCrossEntropy(logits: tf.Tensor2D, targets: tf.Tensor1D, mask: tf.Tensor1D, denominator: number): tf.Scalar {
  return fusedCrossEntropy(logits, targets, mask, denominator);
}
