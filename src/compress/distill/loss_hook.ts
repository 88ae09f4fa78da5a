import * as tf from '@tensorflow/tfjs-core';
import type { LossHook } from '../../runtime/engine/executor.ts';
import { distillationLoss } from './kd_loss.ts';
import type { Teacher } from './teacher.ts';

/**
 * The engine's loss hook for distillation: per micro-batch, the frozen teacher's logits are
 * computed first, outside the gradient tape, and enter the student's loss as constants.
 */
export function distillationHook(teacher: Teacher, opts: { readonly temperature: number; readonly alpha: number }): LossHook {
  return (batch, denominator) => {
    const { batchSize: B, seqLen: T } = batch;
    const teacherLogits = tf.tidy(() => {
      const l = teacher.logits(tf.tensor2d(batch.input, [B, T], 'int32')); // [B, T, V]
      return tf.reshape(l, [B * T, l.shape[2]]) as tf.Tensor2D;
    });
    const targets = tf.tensor1d(batch.target, 'int32');
    const mask = tf.tensor1d(batch.mask, 'float32');
    return {
      fn: (student) => distillationLoss(student, teacherLogits, targets, mask, denominator, opts),
      dispose: () => tf.dispose([teacherLogits, targets, mask]),
    };
  };
}
