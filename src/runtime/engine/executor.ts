import * as tf from '@tensorflow/tfjs-core';
import type { ForwardCtx, Layer, Model, ParamMap } from '../../models/types.ts';
import { maskedCrossEntropy } from '../../models/loss.ts';
import type { FlatParams } from './flat_params.ts';
import { recordForward, type RecordedForward } from './tape.ts';
import { assert, NotImplementedError } from '../../errors.ts';

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
export function uploadParams(flat: FlatParams, data: Float32Array = flat.data): Map<string, tf.Tensor> {
  if (data.length < flat.numel) {
    throw new NotImplementedError('reading the whole model while parameters are sharded (ZeRO stage 3) needs them gathered first: call `await engine.gatherParams()` on every rank (evaluate() and the profiler do)');
  }
  const out = new Map<string, tf.Tensor>();
  for (const s of flat.segments) out.set(s.name, tf.tensor(data.subarray(s.offset, s.offset + s.numel), [...s.shape], 'float32'));
  return out;
}

function paramsOf(layer: Layer, all: Map<string, tf.Tensor>): ParamMap {
  const p: Record<string, tf.Tensor> = {};
  for (const s of layer.params) p[s.name] = all.get(s.name)!;
  return p;
}

export type Phase = 'forward' | 'backward';

/**
 * A training loss other than the plain masked cross entropy (distillation's, src/compress/distill).
 * Called once per micro-batch outside the gradient tape (so it may run a frozen teacher forward);
 * `fn` maps the student's logits [B·T, V] to this micro-batch's loss divided by `denominator`
 * and is traced under tf.valueAndGrads; `dispose` frees what forBatch made.
 */
export type LossHook = (batch: MicroBatch, denominator: number) => { fn: (logits: tf.Tensor2D) => tf.Scalar; dispose(): void };

/**
 * Where a layer's parameters come from and where its gradients go: the seam between the layer
 * loop and a ZeRO stage. Stages 0-2 hand out tensors uploaded once per step; stage 3 gathers a
 * layer's shards in `acquire` and frees them in `release`, and reduces gradient buckets in
 * `afterBackward`, between layers (tfjs traces synchronously, sockets are asynchronous).
 */
export interface LayerHooks {
  /** Makes the layer's parameters available; may wait on a collective. */
  acquire(layer: Layer, phase: Phase): void | Promise<void>;
  /** A parameter tensor of the acquired layer. */
  param(name: string): tf.Tensor;
  release(layer: Layer, phase: Phase): void;
  /** One parameter's gradient from this micro-batch, [numel]; read it during the call only. */
  addGrad(name: string, g: Float32Array): void;
  /** After a layer's backward; may wait on a collective. */
  afterBackward(layer: Layer): void | Promise<void>;
  /**
   * true: parameters do not outlive a phase, so forward keeps no tape (a tape holds its inputs)
   * and backward recomputes each layer from its input with the parameters acquired again.
   */
  readonly releasesParams: boolean;
}

/** The hooks of a step whose parameters are all uploaded (`params`) and whose gradients add into `flat.grads`. */
export function uploadedHooks(flat: FlatParams, params: Map<string, tf.Tensor>): LayerHooks {
  return {
    acquire: () => {},
    param: (name) => params.get(name)!,
    release: () => {},
    addGrad: (name, g) => {
      const dst = flat.gradView(name);
      for (let k = 0; k < dst.length; k++) dst[k]! += g[k]!;
    },
    afterBackward: () => {},
    releasesParams: false,
  };
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
  const gen = layerLoop(model, uploadedHooks(flat, params), batch, denominator, opts.recompute);
  for (let r = gen.next(); ; r = gen.next()) {
    if (r.done) return r.value;
    assert(!(r.value instanceof Promise), 'forwardBackward: uploaded hooks never wait');
  }
}

/** forwardBackward through hooks that may wait between layers (ZeRO stages). */
export async function forwardBackwardWith(model: Model, hooks: LayerHooks, batch: MicroBatch, denominator: number, opts: { recompute: boolean; loss?: LossHook }): Promise<ForwardBackwardResult> {
  const gen = layerLoop(model, hooks, batch, denominator, opts.recompute, opts.loss);
  let r = gen.next();
  while (!r.done) {
    let failure: unknown = null;
    try {
      await r.value;
    } catch (err) {
      failure = err;
    }
    // A failed wait goes back into the loop, whose finally blocks free its tensors.
    r = failure === null ? gen.next() : gen.throw(failure);
  }
  return r.value;
}

/** The layer loop; it yields what a hook returned, so one body serves the sync and async drivers. */
function* layerLoop(model: Model, hooks: LayerHooks, batch: MicroBatch, denominator: number, recomputeOpt: boolean, lossHook?: LossHook): Generator<void | Promise<void>, ForwardBackwardResult, void> {
  const { batchSize: B, seqLen: T } = batch;
  const recompute = recomputeOpt || hooks.releasesParams;
  const ctx: ForwardCtx = { config: model.config, positionOffset: 0, training: true };
  const t0 = performance.now();
  const ids = tf.tensor2d(batch.input, [B, T], 'int32');
  const inputs: tf.Tensor[] = [ids];
  const tapes: (RecordedForward | null)[] = [];
  let dy: tf.Tensor | null = null;
  try {
    for (const layer of model.layers) {
      const x = inputs[inputs.length - 1]!;
      yield hooks.acquire(layer, 'forward');
      try {
        const f = layerForward(layer, hooks, x, ctx, recompute);
        inputs.push(f.y);
        tapes.push(f.tape);
      } finally {
        hooks.release(layer, 'forward');
      }
    }
    const logits = inputs.pop()!; // [B, T, V]
    const V = logits.shape[2]!;
    const targets = tf.tensor1d(batch.target, 'int32');
    const mask = tf.tensor1d(batch.mask, 'float32');
    const custom = lossHook?.(batch, denominator) ?? null;
    let value: tf.Scalar;
    let grads: tf.Tensor[];
    try {
      ({ value, grads } = tf.valueAndGrads((l: tf.Tensor) => {
        const l2 = tf.reshape(l, [B * T, V]) as tf.Tensor2D;
        return custom ? custom.fn(l2) : maskedCrossEntropy(l2, targets, mask, denominator);
      })([logits]));
    } finally {
      custom?.dispose();
    }
    const loss = value.dataSync()[0]!;
    tf.dispose([logits, value, targets, mask]);
    const t1 = performance.now();

    dy = grads[0]!; // [B, T, V]
    for (let i = model.layers.length - 1; i >= 0; i--) {
      const layer = model.layers[i]!;
      const x = inputs[i]!;
      const withInput = layer.input === 'hidden';
      const rec = tapes[i];
      let g: tf.Tensor[];
      if (rec) {
        tapes[i] = null;
        g = rec.backward(dy);
      } else {
        yield hooks.acquire(layer, 'backward');
        try {
          g = vjpByRecompute(layer, hooks, x, dy, ctx);
        } finally {
          hooks.release(layer, 'backward');
        }
      }
      const paramGrads = withInput ? g.slice(1) : g;
      layer.params.forEach((s, j) => hooks.addGrad(s.name, paramGrads[j]!.dataSync() as Float32Array));
      tf.dispose(paramGrads);
      dy.dispose();
      x.dispose();
      dy = withInput ? g[0]! : null;
      yield hooks.afterBackward(layer);
      if (!dy) break;
    }
    return { loss, forwardMs: t1 - t0, backwardMs: performance.now() - t1 };
  } finally {
    for (const rec of tapes) rec?.release();
    tf.dispose(inputs);
    dy?.dispose();
  }
}

/**
 * One layer's forward on its acquired parameters: recorded on tfjs's tape for a later backward,
 * or (recompute) kept as its output only, to be recomputed by vjpByRecompute. Shared by the
 * engine's layer loop and a pipeline stage's (src/parallel/stage_executor.ts).
 */
export function layerForward(layer: Layer, hooks: LayerHooks, x: tf.Tensor, ctx: ForwardCtx, recompute: boolean): { y: tf.Tensor; tape: RecordedForward | null } {
  const pmap = (): ParamMap => Object.fromEntries(layer.params.map((s) => [s.name, hooks.param(s.name)]));
  if (recompute) return { y: tf.tidy(() => layer.forward(pmap(), x, ctx)), tape: null };
  const ps = layer.params.map((s) => hooks.param(s.name));
  const rec = recordForward(layer.input === 'hidden' ? [x, ...ps] : ps, () => layer.forward(pmap(), x, ctx));
  return { y: rec.y, tape: rec };
}

/** The layer's VJP through tf.grads, which runs its forward again from the saved input. */
export function vjpByRecompute(layer: Layer, hooks: LayerHooks, x: tf.Tensor, dy: tf.Tensor, ctx: ForwardCtx): tf.Tensor[] {
  const names = layer.params.map((s) => s.name);
  const withInput = layer.input === 'hidden';
  const f = (...args: tf.Tensor[]): tf.Tensor => {
    const xi = withInput ? args[0]! : x;
    const pm: Record<string, tf.Tensor> = {};
    names.forEach((n, j) => (pm[n] = args[j + (withInput ? 1 : 0)]!));
    return layer.forward(pm, xi, ctx);
  };
  const ps = names.map((n) => hooks.param(n));
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
