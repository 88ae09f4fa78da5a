import * as tf from '@tensorflow/tfjs-core';
import type { ForwardCtx, Layer, Model, ParamMap } from '../../models/types.ts';
import { maskedCrossEntropy } from '../../models/loss.ts';
import type { FlatParams } from './flat_params.ts';
import { recordForward, type RecordedForward } from './tape.ts';

/** One micro-batch: B sequences of T tokens, next-token targets and a loss mask, all [B·T]. */
export interface MicroBatch {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly input: Int32Array;
  readonly target: Int32Array;
  readonly mask: Float32Array;
}

export interface ForwardBackwardResult {
  /** This micro-batch's contribution to the loss (already divided by `denominator`). */
  readonly loss: number;
  /** Milliseconds spent in forward and backward. */
  readonly forwardMs: number;
  readonly backwardMs: number;
}

/**
 * Uploads the flat parameter buffer as one tensor per parameter for this step.
 * The tensors are views' copies: the optimizer updates the flat buffer, the next step uploads again.
 */
export function uploadParams(flat: FlatParams): Map<string, tf.Tensor> {
  const out = new Map<string, tf.Tensor>();
  for (const s of flat.segments) out.set(s.name, tf.tensor(flat.data.subarray(s.offset, s.offset + s.numel), [...s.shape], 'float32'));
  return out;
}

function paramsOf(layer: Layer, all: Map<string, tf.Tensor>): ParamMap {
  const p: Record<string, tf.Tensor> = {};
  for (const s of layer.params) p[s.name] = all.get(s.name)!;
  return p;
}

/**
 * Forward layer by layer, then backward layer by layer: a vector-Jacobian product per layer.
 * Parameter gradients are added into `flat.grads` (so calls accumulate over micro-batches).
 *
 * recompute = false: each layer's forward is recorded on tfjs's tape and kept until its backward
 *   (the activations of every layer stay alive, as in plain backprop).
 * recompute = true (activation checkpointing): only each layer's input is kept; backward runs
 *   the layer's forward again under tf.grads (a third more compute, far less memory).
 * No tensor outlives the call except `params`, owned by the caller.
 */
export function forwardBackward(
  model: Model,
  flat: FlatParams,
  params: Map<string, tf.Tensor>,
  batch: MicroBatch,
  denominator: number,
  opts: { recompute: boolean } = { recompute: false },
): ForwardBackwardResult {
  const { batchSize: B, seqLen: T } = batch;
  const ctx: ForwardCtx = { config: model.config, positionOffset: 0, training: true };
  const t0 = performance.now();
  const ids = tf.tensor2d(batch.input, [B, T], 'int32');
  const inputs: tf.Tensor[] = [ids];
  const tapes: (RecordedForward | null)[] = [];
  const layerArgs = (layer: Layer): tf.Tensor[] => layer.params.map((s) => params.get(s.name)!);
  try {
    for (const layer of model.layers) {
      const x = inputs[inputs.length - 1]!;
      if (opts.recompute) {
        inputs.push(tf.tidy(() => layer.forward(paramsOf(layer, params), x, ctx)));
        tapes.push(null);
      } else {
        const xs = layer.input === 'hidden' ? [x, ...layerArgs(layer)] : layerArgs(layer);
        const rec = recordForward(xs, () => layer.forward(paramsOf(layer, params), x, ctx));
        inputs.push(rec.y);
        tapes.push(rec);
      }
    }
  } catch (err) {
    for (const rec of tapes) rec?.release();
    tf.dispose(inputs);
    throw err;
  }
  const logits = inputs.pop()!; // [B, T, V]
  const V = logits.shape[2]!;
  const targets = tf.tensor1d(batch.target, 'int32');
  const mask = tf.tensor1d(batch.mask, 'float32');
  const { value, grads } = tf.valueAndGrads((l: tf.Tensor) => maskedCrossEntropy(tf.reshape(l, [B * T, V]) as tf.Tensor2D, targets, mask, denominator))([logits]);
  const loss = value.dataSync()[0]!;
  tf.dispose([logits, value, targets, mask]);
  const t1 = performance.now();

  let dy: tf.Tensor | null = grads[0]!; // [B, T, V]
  for (let i = model.layers.length - 1; i >= 0; i--) {
    const layer = model.layers[i]!;
    const x = inputs[i]!;
    const withInput = layer.input === 'hidden';
    const rec = tapes[i];
    const g: tf.Tensor[] = rec ? rec.backward(dy!) : vjpByRecompute(layer, params, x, dy!, ctx);
    const paramGrads = withInput ? g.slice(1) : g;
    layer.params.forEach((s, j) => {
      const gv = paramGrads[j]!.dataSync() as Float32Array;
      const dst = flat.gradView(s.name);
      for (let k = 0; k < dst.length; k++) dst[k]! += gv[k]!;
    });
    tf.dispose(paramGrads);
    dy!.dispose();
    x.dispose();
    dy = withInput ? g[0]! : null;
  }
  dy?.dispose();
  return { loss, forwardMs: t1 - t0, backwardMs: performance.now() - t1 };
}

/** The layer's VJP through tf.grads, which runs its forward again from the saved input. */
function vjpByRecompute(layer: Layer, params: Map<string, tf.Tensor>, x: tf.Tensor, dy: tf.Tensor, ctx: ForwardCtx): tf.Tensor[] {
  const names = layer.params.map((s) => s.name);
  const withInput = layer.input === 'hidden';
  const f = (...args: tf.Tensor[]): tf.Tensor => {
    const xi = withInput ? args[0]! : x;
    const pm: Record<string, tf.Tensor> = {};
    names.forEach((n, j) => (pm[n] = args[j + (withInput ? 1 : 0)]!));
    return layer.forward(pm, xi, ctx);
  };
  const ps = names.map((n) => params.get(n)!);
  return tf.grads(f)(withInput ? [x, ...ps] : ps, dy);
}

/** Logits [B, T, V] of a forward pass with no gradient (evaluation, generation). */
export function forwardLogits(model: Model, params: Map<string, tf.Tensor>, ids: tf.Tensor2D): tf.Tensor3D {
  const ctx: ForwardCtx = { config: model.config, positionOffset: 0, training: false };
  return tf.tidy(() => {
    let x: tf.Tensor = ids;
    for (const layer of model.layers) x = layer.forward(paramsOf(layer, params), x, ctx);
    return x as tf.Tensor3D;
  });
}
