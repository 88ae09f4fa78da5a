/** The tensor-parallel side of the layer loop: the tp group's interface, the g/f all-reduce of a tensor, the vocab-parallel loss. */
import * as tf from '@tensorflow/tfjs-core';
import type { MicroBatch } from './executor.ts';
import { readTensor, type Step } from './steps.ts';

/**
 * A rank's tensor-parallel group, for the layer loop (src/parallel/tensor_parallel.ts builds it).
 * Megatron's f and g: a residual branch's output and the embedding's are partial sums over the
 * group (all-reduced before the residual add), a layer's input gradient is too; the last layer's
 * logits cover this rank's slice of the vocabulary only, so the loss is vocabulary-parallel.
 */
export interface TensorParallel {
  readonly size: number;
  readonly rank: number;
  /** [start, end) of the vocabulary this rank's embedding rows and logits columns hold. */
  readonly vocab: { readonly start: number; readonly end: number };
  /** In place over the tp group. */
  allReduce(buf: Float32Array, op: 'sum' | 'max'): Promise<void>;
  /** Sums, in place, the gradient of a parameter part held by the tp ranks `sharedBy` (a norm weight: all of them). */
  sumShared(buf: Float32Array, sharedBy: readonly number[]): Promise<void>;
}

/** `t` summed over the tp group, as a new tensor of its shape (`t` is disposed). */
export function* allReduceTensor(t: tf.Tensor, tp: TensorParallel): Step<tf.Tensor> {
  const data = yield* readTensor(t);
  const shape = t.shape;
  t.dispose();
  yield tp.allReduce(data, 'sum');
  return tf.tensor(data, shape, 'float32');
}

/**
 * Cross entropy over logits split by vocabulary across the tp group (Megatron's
 * vocab-parallel cross entropy): the full-vocabulary logits are never gathered. Per token,
 *   m = max over ranks of the local max, S = Σ_ranks Σ_v exp(l − m), lse = m + log S,
 *   picked = the target's logit, from the rank that holds it (0 elsewhere),
 *   loss = Σ mask · (lse − picked) / denominator,   dl = (exp(l − lse) − onehot) · mask / denominator.
 * Two all-reduces of [N] and [2N] floats per micro-batch.
 */
export function* vocabParallelLoss(logits: tf.Tensor, batch: MicroBatch, denominator: number, tp: TensorParallel, withGrad: boolean): Step<{ loss: number; dLogits: tf.Tensor | null }> {
  const { batchSize: B, seqLen: T } = batch;
  const N = B * T;
  const Vr = logits.shape[2]!;
  const { start, end } = tp.vocab;
  const l2 = tf.reshape(logits, [N, Vr]) as tf.Tensor2D;
  const localT = new Int32Array(N);
  const owned = new Float32Array(N);
  for (let i = 0; i < N; i++) {
    const t = batch.target[i]!;
    if (t >= start && t < end) (localT[i] = t - start), (owned[i] = 1);
  }
  const onehot = tf.tidy(() => tf.mul(tf.oneHot(tf.tensor1d(localT, 'int32'), Vr), tf.reshape(tf.tensor1d(owned), [N, 1])));
  try {
    const maxT = tf.max(l2, -1);
    const m = yield* readTensor(maxT);
    maxT.dispose();
    yield tp.allReduce(m, 'max');
    const mT = tf.tensor2d(m, [N, 1]);
    const sp = tf.tidy(() => tf.concat([tf.sum(tf.exp(tf.sub(l2, mT)), -1), tf.sum(tf.mul(l2, onehot), -1)]));
    mT.dispose();
    const sums = yield* readTensor(sp);
    sp.dispose();
    yield tp.allReduce(sums, 'sum');
    const lse = new Float32Array(N);
    let loss = 0;
    for (let i = 0; i < N; i++) {
      lse[i] = m[i]! + Math.log(sums[i]!);
      loss += batch.mask[i]! * (lse[i]! - sums[N + i]!);
    }
    loss /= denominator;
    if (!withGrad) return { loss, dLogits: null };
    const dLogits = tf.tidy(() => {
      const p = tf.exp(tf.sub(l2, tf.tensor2d(lse, [N, 1])));
      const w = tf.reshape(tf.div(tf.tensor1d(batch.mask), denominator), [N, 1]);
      return tf.reshape(tf.mul(tf.sub(p, onehot), w), [B, T, Vr]);
    });
    return { loss, dLogits };
  } finally {
    onehot.dispose();
    if (l2 !== logits) l2.dispose();
  }
}
