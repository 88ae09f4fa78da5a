/**
 * One pipeline stage's share of a micro-batch: forward over its slice of the layer list from an
 * input (token ids on the first stage, the previous stage's hidden state [B, T, D] otherwise),
 * and backward from the gradient of its output (the loss's, on the last stage) to the gradient of
 * its input, which goes back to the previous stage. Each layer's forward is kept on tfjs's tape
 * until its backward (or recomputed from its input with activation checkpointing), as in
 * runtime/engine/executor.ts; parameter gradients go to the ZeRO stage through its hooks.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ForwardCtx, Layer } from '../models/types.ts';
import { maskedCrossEntropy } from '../models/loss.ts';
import { layerForward, vjpByRecompute, type LayerHooks, type MicroBatch } from '../runtime/engine/executor.ts';
import type { RecordedForward } from '../runtime/engine/tape.ts';

/** What a stage keeps of one micro-batch between its forward and its backward. */
export interface StageActivations {
  readonly inputs: tf.Tensor[]; // inputs[i]: the input of layer i; inputs[0] is the stage's input
  readonly tapes: (RecordedForward | null)[];
}

export function forwardStage(layers: readonly Layer[], hooks: LayerHooks, input: tf.Tensor, ctx: ForwardCtx, recompute: boolean): { output: tf.Tensor; kept: StageActivations } {
  const inputs: tf.Tensor[] = [input];
  const tapes: (RecordedForward | null)[] = [];
  try {
    for (const layer of layers) {
      const f = layerForward(layer, hooks, inputs[inputs.length - 1]!, ctx, recompute);
      inputs.push(f.y);
      tapes.push(f.tape);
    }
  } catch (err) {
    for (const r of tapes) r?.release();
    tf.dispose(inputs);
    throw err;
  }
  const output = inputs.pop()!;
  return { output, kept: { inputs, tapes } };
}

/** The last stage: loss of its logits [B, T, V] (divided by the global masked count) and the logits' gradient. */
export function lossAndGrad(logits: tf.Tensor, batch: MicroBatch, denominator: number): { loss: number; dLogits: tf.Tensor } {
  const { batchSize: B, seqLen: T } = batch;
  const V = logits.shape[2]!;
  const targets = tf.tensor1d(batch.target, 'int32');
  const mask = tf.tensor1d(batch.mask, 'float32');
  const { value, grads } = tf.valueAndGrads((l: tf.Tensor) => maskedCrossEntropy(tf.reshape(l, [B * T, V]) as tf.Tensor2D, targets, mask, denominator))([logits]);
  const loss = value.dataSync()[0]!;
  tf.dispose([value, targets, mask]);
  return { loss, dLogits: grads[0]! };
}

/**
 * Backward through the stage from dy (the gradient of its output; consumed), freeing what forward
 * kept. Returns the gradient of the stage's input, or null on the first stage (token ids).
 */
export function backwardStage(layers: readonly Layer[], hooks: LayerHooks, kept: StageActivations, dy: tf.Tensor, ctx: ForwardCtx): tf.Tensor | null {
  let g: tf.Tensor | null = dy;
  try {
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i]!;
      const x = kept.inputs[i]!;
      const withInput = layer.input === 'hidden';
      const rec = kept.tapes[i];
      kept.tapes[i] = null;
      const out: tf.Tensor[] = rec ? rec.backward(g!) : vjpByRecompute(layer, hooks, x, g!, ctx);
      const paramGrads = withInput ? out.slice(1) : out;
      layer.params.forEach((s, j) => hooks.addGrad(s.name, paramGrads[j]!.dataSync() as Float32Array));
      tf.dispose(paramGrads);
      g!.dispose();
      g = withInput ? out[0]! : null;
    }
    return g;
  } finally {
    for (const r of kept.tapes) r?.release();
    tf.dispose(kept.inputs);
  }
}
