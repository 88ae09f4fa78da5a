import * as tf from '@tensorflow/tfjs-core';
import type { ForwardCtx, Layer, Model, ParamMap } from '../../models/types.ts';
import { maskedCrossEntropy } from '../../models/loss.ts';
import { applyLayer } from '../../models/ops.ts';
import type { FlatParams } from './flat_params.ts';
import { recordForward, type RecordedForward } from './tape.ts';
import { drive, driveSync, readTensor, type Step } from './steps.ts';
import { allReduceTensor, vocabParallelLoss, type TensorParallel } from './tensor_parallel_ops.ts';

export { drive, driveSync, readTensor, type Step } from './steps.ts';
export { vocabParallelLoss, type TensorParallel } from './tensor_parallel_ops.ts';
import { assert, DeepscaleError, NotImplementedError } from '../../errors.ts';

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

/** What a forward over a slice of the layer list keeps for its backward. */
export interface KeptActivations {
  readonly inputs: tf.Tensor[]; // inputs[i]: the input of layer i; inputs[0] is the slice's input
  readonly tapes: (RecordedForward | null)[];
}

/** Frees what a forward kept, when no backward will run (an error, an abandoned step). */
export function releaseKept(kept: KeptActivations): void {
  for (const r of kept.tapes) r?.release();
  tf.dispose(kept.inputs);
}

/**
 * Forward over `layers` (the whole list, or a pipeline stage's slice) from `input` (token ids
 * [B, T] or hidden [B, T, D]; kept, freed with `kept`). recompute = false records each layer on
 * tfjs's tape until its backward; true keeps only each layer's input (activation checkpointing,
 * and always when the hooks release parameters between phases, as ZeRO-3's do).
 */
export function* forwardLayers(layers: readonly Layer[], hooks: LayerHooks, input: tf.Tensor, ctx: ForwardCtx, recompute: boolean, tp: TensorParallel | null): Step<{ output: tf.Tensor; kept: KeptActivations }> {
  const kept: KeptActivations = { inputs: [input], tapes: [] };
  try {
    for (const layer of layers) {
      const x = kept.inputs[kept.inputs.length - 1]!;
      yield hooks.acquire(layer, 'forward');
      let f: { y: tf.Tensor; tape: RecordedForward | null };
      try {
        f = layerForward(layer, hooks, x, ctx, recompute || hooks.releasesParams);
      } finally {
        hooks.release(layer, 'forward');
      }
      kept.tapes.push(f.tape);
      let y = f.y;
      try {
        // Megatron's g: a row-parallel branch (and the vocab-parallel embedding) is a partial sum.
        if (tp && (layer.residual || layer.input === 'ids')) y = yield* allReduceTensor(y, tp);
        if (layer.residual) {
          const branch = y;
          y = tf.add(x, branch);
          branch.dispose();
        }
      } catch (err) {
        if (!y.isDisposed) y.dispose();
        throw err;
      }
      kept.inputs.push(y);
    }
  } catch (err) {
    releaseKept(kept);
    throw err;
  }
  const output = kept.inputs.pop()!;
  return { output, kept };
}

/**
 * Backward through `layers` from dy (the gradient of their output; consumed), freeing what
 * forward kept; parameter gradients go to the hooks. Returns the gradient of the slice's input,
 * or null when the slice starts at the embedding (token ids have none).
 */
export function* backwardLayers(layers: readonly Layer[], hooks: LayerHooks, kept: KeptActivations, dy: tf.Tensor, ctx: ForwardCtx, tp: TensorParallel | null): Step<tf.Tensor | null> {
  let g: tf.Tensor | null = dy;
  try {
    for (let i = layers.length - 1; i >= 0; i--) {
      const layer = layers[i]!;
      const x = kept.inputs[i]!;
      const withInput = layer.input === 'hidden';
      const rec = kept.tapes[i];
      kept.tapes[i] = null;
      let out: tf.Tensor[];
      if (rec) out = rec.backward(g!);
      else {
        yield hooks.acquire(layer, 'backward');
        try {
          out = vjpByRecompute(layer, hooks, x, g!, ctx);
        } finally {
          hooks.release(layer, 'backward');
        }
      }
      const paramGrads = withInput ? out.slice(1) : out;
      try {
        yield* addParamGrads(layer, hooks, paramGrads, tp);
      } catch (err) {
        if (withInput) out[0]!.dispose(); // the input's gradient, which no one will take now
        throw err;
      } finally {
        tf.dispose(paramGrads);
      }
      let dx: tf.Tensor | null = withInput ? out[0]! : null;
      if (dx && tp) dx = yield* allReduceTensor(dx, tp); // Megatron's f: the input's gradient is a partial sum
      if (dx && layer.residual) {
        const branch = dx;
        dx = tf.add(g!, branch);
        branch.dispose();
      }
      g!.dispose();
      g = dx;
      x.dispose(); // the layer's input is no longer needed: activation memory falls as backward goes
      yield hooks.afterBackward(layer);
      if (!g) break;
    }
    return g;
  } catch (err) {
    g?.dispose();
    throw err;
  } finally {
    releaseKept(kept);
  }
}

/** Hands a layer's parameter gradients to the hooks; under tp the parts several ranks hold are summed over them first. */
function* addParamGrads(layer: Layer, hooks: LayerHooks, grads: readonly tf.Tensor[], tp: TensorParallel | null): Step<void> {
  const shared = new Map<string, { ranks: readonly number[]; parts: { name: string; g: Float32Array }[] }>();
  for (let j = 0; j < layer.params.length; j++) {
    const s = layer.params[j]!;
    const g = yield* readTensor(grads[j]!);
    const by = s.slice?.sharedBy;
    if (tp && by && by.length > 1) {
      const key = by.join(',');
      const e = shared.get(key) ?? { ranks: by, parts: [] };
      e.parts.push({ name: s.name, g });
      shared.set(key, e);
    } else hooks.addGrad(s.name, g);
  }
  for (const { ranks, parts } of shared.values()) {
    const packed = new Float32Array(parts.reduce((n, p) => n + p.g.length, 0));
    let o = 0;
    for (const p of parts) (packed.set(p.g, o), (o += p.g.length));
    yield tp!.sumShared(packed, ranks);
    o = 0;
    for (const p of parts) (hooks.addGrad(p.name, packed.subarray(o, o + p.g.length)), (o += p.g.length));
  }
}

/**
 * The loss of the last layer's logits [B, T, V] (or [B, T, V/tp], this rank's vocabulary slice)
 * over the micro-batch, divided by `denominator`, and the logits' gradient.
 */
export function* lossAndGrad(logits: tf.Tensor, batch: MicroBatch, denominator: number, tp: TensorParallel | null, custom?: LossHook): Step<{ loss: number; dLogits: tf.Tensor }> {
  const { batchSize: B, seqLen: T } = batch;
  if (tp) {
    const r = yield* vocabParallelLoss(logits, batch, denominator, tp, true);
    return { loss: r.loss, dLogits: r.dLogits! };
  }
  const V = logits.shape[2]!;
  const targets = tf.tensor1d(batch.target, 'int32');
  const mask = tf.tensor1d(batch.mask, 'float32');
  const hook = custom?.(batch, denominator) ?? null;
  try {
    const { value, grads } = tf.valueAndGrads((l: tf.Tensor) => {
      const l2 = tf.reshape(l, [B * T, V]) as tf.Tensor2D;
      return hook ? hook.fn(l2) : maskedCrossEntropy(l2, targets, mask, denominator);
    })([logits]);
    const loss = (yield* readTensor(value))[0]!;
    value.dispose();
    return { loss, dLogits: grads[0]! };
  } finally {
    hook?.dispose();
    tf.dispose([targets, mask]);
  }
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
  return driveSync(layerLoop(model, uploadedHooks(flat, params), batch, denominator, opts.recompute, null), 'forwardBackward');
}

/** forwardBackward through hooks that may wait between layers (ZeRO stages), and across a tp group. */
export async function forwardBackwardWith(model: Model, hooks: LayerHooks, batch: MicroBatch, denominator: number, opts: { recompute: boolean; loss?: LossHook; tp?: TensorParallel | null }): Promise<ForwardBackwardResult> {
  return drive(layerLoop(model, hooks, batch, denominator, opts.recompute, opts.tp ?? null, opts.loss));
}

/** One micro-batch through the whole layer list: forward, loss, backward. */
function* layerLoop(model: Model, hooks: LayerHooks, batch: MicroBatch, denominator: number, recompute: boolean, tp: TensorParallel | null, lossHook?: LossHook): Step<ForwardBackwardResult> {
  const { batchSize: B, seqLen: T } = batch;
  const ctx: ForwardCtx = { config: model.config, positionOffset: 0, training: true };
  const t0 = performance.now();
  const ids = tf.tensor2d(batch.input, [B, T], 'int32');
  const f = yield* forwardLayers(model.layers, hooks, ids, ctx, recompute, tp);
  let r: { loss: number; dLogits: tf.Tensor };
  try {
    r = yield* lossAndGrad(f.output, batch, denominator, tp, lossHook);
  } catch (err) {
    releaseKept(f.kept);
    throw err;
  } finally {
    f.output.dispose();
  }
  const t1 = performance.now();
  yield* backwardLayers(model.layers, hooks, f.kept, r.dLogits, ctx, tp);
  return { loss: r.loss, forwardMs: t1 - t0, backwardMs: performance.now() - t1 };
}

/**
 * The loss of one micro-batch with no gradient (evaluation): the layer list on uploaded
 * parameters, its logits' masked cross entropy (vocabulary-parallel under tp), divided by `denominator`.
 */
export function* evalLayers(layers: readonly Layer[], params: Map<string, tf.Tensor>, input: tf.Tensor, ctx: ForwardCtx, tp: TensorParallel | null): Step<tf.Tensor> {
  let x = input;
  for (const layer of layers) {
    const p = paramsOf(layer, params);
    let y = tf.tidy(() => layer.forward(p, x, ctx));
    if (tp && (layer.residual || layer.input === 'ids')) y = yield* allReduceTensor(y, tp);
    if (layer.residual) {
      const branch = y;
      y = tf.add(x, branch);
      branch.dispose();
    }
    if (x !== input) x.dispose();
    x = y;
  }
  return x;
}

/** Masked cross entropy of logits [B, T, V or V/tp] with no gradient, divided by `denominator`. */
export function* evalLoss(logits: tf.Tensor, batch: MicroBatch, denominator: number, tp: TensorParallel | null): Step<number> {
  if (tp) return (yield* vocabParallelLoss(logits, batch, denominator, tp, false)).loss;
  const { batchSize: B, seqLen: T } = batch;
  const loss = tf.tidy(() => maskedCrossEntropy(tf.reshape(logits, [B * T, logits.shape[2]!]) as tf.Tensor2D, tf.tensor1d(batch.target, 'int32'), tf.tensor1d(batch.mask, 'float32'), denominator));
  const v = (yield* readTensor(loss))[0]!;
  loss.dispose();
  return v;
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

/**
 * Logits [B, T, V] of a forward pass with no gradient (evaluation, generation), on a model this
 * rank holds whole: a tensor-parallel rank's slices (no all-reduces here) or a pipeline stage's
 * layers would give numbers that are not the model's logits, so they are refused.
 */
export function forwardLogits(model: Model, params: Map<string, tf.Tensor>, ids: tf.Tensor2D): tf.Tensor3D {
  const split = model.layers.flatMap((l) => l.params).find((p) => p.slice && p.shape.some((d, k) => d !== p.slice!.fullShape[k]));
  if (split) throw new DeepscaleError('not_implemented', `forwardLogits runs the whole model, and this is a tensor-parallel rank's part of it (${split.name} is [${split.shape}] of [${split.slice!.fullShape}]); use engine.evalBatch, or export the checkpoint and use ds generate`);
  if (model.layers[0]?.input !== 'ids') throw new DeepscaleError('not_implemented', `forwardLogits runs the whole model from token ids; this layer list starts at ${model.layers[0]?.name ?? 'nothing'} (a later pipeline stage's); use engine.evalBatch, or export the checkpoint and use ds generate`);
  const ctx: ForwardCtx = { config: model.config, positionOffset: 0, training: false };
  const logits = tf.tidy(() => {
    let x: tf.Tensor = ids;
    for (const layer of model.layers) x = applyLayer(layer, paramsOf(layer, params), x, ctx);
    return x as tf.Tensor3D;
  });
  if (logits.rank !== 3 || logits.shape[2] !== model.config.vocabSize) {
    const shape = logits.shape;
    logits.dispose();
    throw new DeepscaleError('not_implemented', `forwardLogits: this layer list ends at ${model.layers[model.layers.length - 1]!.name} with [${shape}], not the [B, T, ${model.config.vocabSize}] logits of the whole model (a pipeline stage's layers?); use engine.evalBatch, or export the checkpoint and use ds generate`);
  }
  return logits;
}
