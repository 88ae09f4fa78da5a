import * as tf from '@tensorflow/tfjs-core';
import { maskedCrossEntropy } from '../../models/loss.ts';
import '../../runtime/tf_gradients.ts';

/**
 * Hinton's knowledge-distillation loss over the positions where mask = 1:
 *
 *   loss = alpha · T² · Σₙ maskₙ · KL(pₜ,ₙ ‖ pₛ,ₙ) / denominator  +  (1 − alpha) · CE(student, targets)
 *   p = softmax(logits / T),  KL(pₜ ‖ pₛ) = Σᵥ pₜ (log pₜ − log pₛ)
 *
 * T² keeps the soft term's gradient on the scale of the hard one as T grows. student and teacher
 * are [N, V]; the teacher is a constant (no gradient flows into it). `denominator` is the global
 * batch's masked-token count, as for the plain loss, so micro-batches and ranks sum to the mean.
 */
export function distillationLoss(
  student: tf.Tensor2D,
  teacher: tf.Tensor2D,
  targets: tf.Tensor1D,
  mask: tf.Tensor1D,
  denominator: number,
  opts: { readonly temperature: number; readonly alpha: number },
): tf.Scalar {
  return tf.tidy(() => {
    const { temperature: T, alpha } = opts;
    const logPt = tf.logSoftmax(tf.div(teacher, T)); // [N, V]
    const logPs = tf.logSoftmax(tf.div(student, T)); // [N, V]
    const kl = tf.sum(tf.mul(tf.exp(logPt), tf.sub(logPt, logPs)), -1); // [N]
    const soft = tf.div(tf.sum(tf.mul(kl, mask)), denominator);
    const hard = maskedCrossEntropy(student, targets, mask, denominator);
    return tf.add(tf.mul(soft, alpha * T * T), tf.mul(hard, 1 - alpha)) as tf.Scalar;
  });
}
