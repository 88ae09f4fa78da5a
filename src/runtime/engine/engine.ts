import * as tf from '@tensorflow/tfjs-core';
import type { Model } from '../../models/types.ts';
import { FlatParams } from './flat_params.ts';
import type { FlatOptimizer } from '../optim/types.ts';
import { drive, evalLayers, evalLoss, forwardBackwardWith, forwardLogits, uploadParams, type LayerHooks, type LossHook, type MicroBatch, type TensorParallel } from './executor.ts';
import { maskedCrossEntropy } from '../../models/loss.ts';
import { DeepscaleError, InputError, NotImplementedError } from '../../errors.ts';
import { profileForward, type LayerProfile } from './profile.ts';
import { greedyGenerate, greedyGenerateAsync } from './greedy.ts';
import type { MemoryReport, ZeroStage } from './reducer.ts';
import { log } from '../logger.ts';
import { loadEngineState, saveEngineState, type CheckpointPlace } from './checkpointing.ts';


export interface EngineOptions {
  readonly gradAccumSteps: number;
  readonly gradientClipping: number; // 0 = off
  readonly seed: number;
  readonly lrAt: (step: number) => number;
  /**
   * Where parameters, gradients and optimizer state live and what happens at the accumulation
   * boundary (reduce, clip, step): a ZeRO stage from src/zero (createZeroStage). It owns `flat`
   * and the optimizer.
   */
  readonly stage: ZeroStage;
  /** Recompute each layer's forward in backward (activation checkpointing) instead of keeping its tape. */
  readonly recompute?: boolean;
  /** This rank's place for checkpoints (default: rank 0 of 1, float32 weights). */
  readonly place?: CheckpointPlace;
  /** Text files every checkpoint carries (tokenizer.json, tokenizer_config.json). */
  readonly checkpointFiles?: Record<string, string>;
  /** The training loss when it is not the plain cross entropy (distillation); evalLoss stays cross entropy. */
  readonly loss?: LossHook;
  /** Told of every finished step (printing, progress, monitors, profiler: see monitor/engine_monitor.ts). */
  readonly onStep?: (r: StepResult) => void | Promise<void>;
  /** Runs a step's micro-batches when they do not all run here (pipeline parallelism: src/parallel); default: the layer loop. */
  readonly runner?: MicroBatchRunner;
  /** This rank's tensor-parallel group: the model's layers hold this rank's slices (src/parallel/tensor_parallel.ts). */
  readonly tensorParallel?: TensorParallel | null;
}

/**
 * Forward and backward of one step's micro-batches through the stage's hooks, returning the
 * summed loss share of this data-parallel rank. The default runs every layer here; a pipeline
 * stage runs its slice on the 1F1B schedule and passes activations to its neighbours.
 */
export interface MicroBatchRunner {
  run(micro: readonly MicroBatch[], hooks: LayerHooks, denominator: number): Promise<{ loss: number; forwardMs: number; backwardMs: number; idleMs?: number }>;
  /** Why whole-model operations (evalLoss, generate, the profiler) cannot run on this rank; null when they can. */
  readonly wholeModelUnavailable: string | null;
  /** One batch's loss with no gradient on `params` (this rank's), every rank of the job taking part (evalBatch). */
  evalLoss?(batch: MicroBatch, params: Map<string, tf.Tensor>, denominator: number): Promise<number>;
}

/** What a data loader gives a checkpoint so that a resumed run reads on where the saved one stopped. */
export interface ResumableLoader {
  next(): MicroBatch;
  state(): unknown;
  restore(state: unknown): void;
}

/** DeepSpeed's load_checkpoint returns (load_path, client_state). */
export interface LoadedCheckpointInfo {
  readonly loadPath: string;
  readonly tag: string;
  readonly clientState: Record<string, unknown>;
}

export interface StepResult {
  readonly step: number;
  /** Mean loss over the global batch's loss-masked tokens. */
  readonly loss: number;
  readonly lr: number;
  readonly gradNorm: number;
  /** true: the gradient norm was not finite, so the optimizer step was skipped (DeepSpeed's overflow). */
  readonly overflow: boolean;
  /** Bytes this rank sent in collectives during the step. */
  readonly commBytes: number;
  readonly tokens: number; // tokens processed by this rank in this step
  /** pipelineIdleMs: time a pipeline stage waited for its neighbours' activations and gradients (the bubble). */
  readonly timings: { forwardMs: number; backwardMs: number; commMs: number; optimizerMs: number; pipelineIdleMs?: number };
}

/**
 * The training engine: owns the flat parameter and gradient buffers, runs the model's layer list
 * forward and backward per micro-batch, reduces gradients across ranks, clips, and steps the
 * optimizer at each accumulation boundary (DeepSpeed's train_batch).
 */
export class Engine {
  readonly model: Model;
  readonly flat: FlatParams;
  private readonly opts: EngineOptions;
  private globalStep = 0;
  /** Steps skipped on overflow: the LR schedule does not advance on them (DeepSpeed skips lr_scheduler.step()). */
  private skippedSteps = 0;
  private loader: ResumableLoader | null = null;
  /** The last micro-batch trained on: what the flops profiler runs. */
  private lastBatch: MicroBatch | null = null;
  /** The whole model's parameters while gathered (ZeRO-3), for evaluation, generation and the profiler. */
  private gathered: Float32Array | null = null;

  constructor(model: Model, opts: EngineOptions) {
    this.model = model;
    this.opts = opts;
    this.flat = opts.stage.flat;
  }

  get optimizer(): FlatOptimizer {
    return this.opts.stage.optimizer;
  }

  /** Bytes this rank holds for parameters, gradients and optimizer state, as allocated (ZeRO's model states). */
  memoryReport(): MemoryReport {
    return this.opts.stage.memoryReport();
  }

  get step(): number {
    return this.globalStep;
  }

  /** The loader trainBatch() reads by default and whose position checkpoints save and restore (initialize's trainingData). */
  attachDataLoader(loader: ResumableLoader): void {
    this.loader = loader;
  }

  /** Restores the step counter (checkpoint resume). */
  setStep(step: number): void {
    this.globalStep = step;
  }

  /** One optimizer step over gradAccumSteps micro-batches drawn from `next`. */
  async trainBatch(next?: () => MicroBatch): Promise<StepResult> {
    // DeepSpeed's train_batch(data_iter=None) reads the training data given to initialize.
    const draw = next ?? (this.loader ? () => this.loader!.next() : null);
    if (!draw) throw new InputError('Engine.trainBatch: no batches: pass a function that returns the next micro-batch, or give initialize({ trainingData })');
    const { gradAccumSteps, stage } = this.opts;
    const micro = Array.from({ length: gradAccumSteps }, () => draw());
    micro.forEach((mb, k) => checkTokenIds(mb, this.model.config.vocabSize, `Engine.trainBatch: micro-batch ${k}`));
    this.lastBatch = micro[micro.length - 1] ?? null;
    let tokens = 0;
    let masked = 0;
    for (const mb of micro) {
      tokens += mb.batchSize * mb.seqLen;
      for (let i = 0; i < mb.mask.length; i++) masked += mb.mask[i]!;
    }
    // Divide by the global batch's masked-token count, so that summing over micro-batches and
    // ranks gives the global mean exactly (2 ranks × 4 sequences = 1 rank × 8 sequences).
    let t = performance.now();
    const globalMasked = await stage.sumScalar(masked);
    let commMs = performance.now() - t;
    const denom = Math.max(globalMasked, 1);

    const hooks = stage.beginStep();
    let loss = 0;
    let forwardMs = 0;
    let backwardMs = 0;
    let idleMs: number | undefined;
    try {
      if (this.opts.runner) ({ loss, forwardMs, backwardMs, idleMs } = await this.opts.runner.run(micro, hooks, denom));
      else for (const mb of micro) {
        const r = await forwardBackwardWith(this.model, hooks, mb, denom, { recompute: this.opts.recompute ?? false, loss: this.opts.loss, tp: this.opts.tensorParallel });
        loss += r.loss;
        forwardMs += r.forwardMs;
        backwardMs += r.backwardMs;
      }
    } finally {
      hooks.close();
    }
    t = performance.now();
    loss = await stage.sumScalar(loss);
    commMs += performance.now() - t;

    // The stage reduces what is left, clips and steps; its collectives count as optimizer time here.
    t = performance.now();
    const lr = this.opts.lrAt(this.globalStep - this.skippedSteps);
    const { gradNorm, overflow, commBytes } = await stage.endStep(lr, this.opts.gradientClipping);
    if (overflow) {
      this.skippedSteps++;
      log.warn(`step ${this.globalStep + 1}: gradient norm is ${gradNorm}; skipping the optimizer step (parameters, optimizer state and the LR schedule unchanged)`);
    }
    const optimizerMs = performance.now() - t;
    this.globalStep++;
    const result: StepResult = { step: this.globalStep, loss, lr, gradNorm, overflow, commBytes, tokens, timings: { forwardMs, backwardMs, commMs, optimizerMs, ...(idleMs === undefined ? {} : { pipelineIdleMs: idleMs }) } };
    await this.opts.onStep?.(result);
    return result;
  }

  /**
   * DeepSpeed's save_checkpoint(save_dir, tag, client_state): parameters, optimizer state, the
   * step, the model config, the tokenizer and the data loader's position, on every rank
   * (dir/latest names the tag). `clientState` is whatever the script needs back on resume.
   */
  async saveCheckpoint(dir: string, tag = `global_step${this.globalStep}`, clientState: Record<string, unknown> = {}): Promise<void> {
    const meta: Record<string, unknown> = { client_state: clientState, skipped_steps: this.skippedSteps };
    if (this.loader) meta.data_loader = this.loader.state();
    await saveEngineState(dir, tag, this.place, {
      stage: this.opts.stage, step: this.globalStep, meta, model: this.model.config, textFiles: this.opts.checkpointFiles,
    });
  }

  /**
   * DeepSpeed's load_checkpoint(load_dir, tag): restores what saveCheckpoint wrote (default tag:
   * dir/latest), refusing a checkpoint of a different model; returns the client state.
   */
  async loadCheckpoint(dir: string, tag?: string): Promise<LoadedCheckpointInfo> {
    const r = await loadEngineState(dir, tag, this.place, { stage: this.opts.stage, model: this.model.config });
    this.globalStep = r.step;
    this.skippedSteps = Number(r.meta.skipped_steps ?? 0);
    if (this.loader && r.meta.data_loader !== undefined) this.loader.restore(r.meta.data_loader);
    const clientState = (r.meta.client_state ?? {}) as Record<string, unknown>;
    return { loadPath: `${dir}/${r.tag}`, tag: r.tag, clientState };
  }

  /** DeepSpeed's name for saveCheckpoint. */
  save_checkpoint(dir: string, tag?: string, clientState: Record<string, unknown> = {}): Promise<void> {
    return this.saveCheckpoint(dir, tag, clientState);
  }

  /** DeepSpeed's name for loadCheckpoint. */
  load_checkpoint(dir: string, tag?: string): Promise<LoadedCheckpointInfo> {
    return this.loadCheckpoint(dir, tag);
  }

  private get place(): CheckpointPlace {
    return this.opts.place ?? { rank: 0, worldSize: 1, weightDtype: 'fp32' };
  }

  /** Mean masked loss of a batch: forward only (no tape, no backward, gradients untouched). */
  evalLoss(batch: MicroBatch): number {
    this.wholeModel('evalLoss');
    syncReadable('evalLoss', 'evalBatch');
    const { batchSize: B, seqLen: T } = batch;
    const params = uploadParams(this.flat, this.gathered ?? this.flat.data);
    try {
      let masked = 0;
      for (let i = 0; i < batch.mask.length; i++) masked += batch.mask[i]!;
      const loss = tf.tidy(() => {
        const logits = forwardLogits(this.model, params, tf.tensor2d(batch.input, [B, T], 'int32')); // [B, T, V]
        const V = logits.shape[2];
        return maskedCrossEntropy(tf.reshape(logits, [B * T, V]) as tf.Tensor2D, tf.tensor1d(batch.target, 'int32'), tf.tensor1d(batch.mask, 'float32'), Math.max(masked, 1));
      });
      const v = loss.dataSync()[0]!;
      loss.dispose();
      return v;
    } finally {
      tf.dispose([...params.values()]);
    }
  }

  /**
   * DeepSpeed's eval_batch: the mean masked loss of a batch, forward only, on every layout
   * (pipeline stages pass the hidden state along, tensor-parallel ranks reduce their partial sums
   * and score their vocabulary slices): every rank of the job calls it with its data-parallel
   * replica's batch. Under ZeRO-3, between gatherParams() and releaseParams().
   */
  async evalBatch(batch: MicroBatch): Promise<number> {
    checkTokenIds(batch, this.model.config.vocabSize, 'Engine.evalBatch');
    const runner = this.opts.runner;
    const tp = this.opts.tensorParallel ?? null;
    if (!runner?.evalLoss && !tp && tf.getBackend() !== 'webgpu') return this.evalLoss(batch);
    let masked = 0;
    for (let i = 0; i < batch.mask.length; i++) masked += batch.mask[i]!;
    const params = uploadParams(this.flat, this.gathered ?? this.flat.data);
    try {
      if (runner?.evalLoss) return await runner.evalLoss(batch, params, Math.max(masked, 1));
      const ctx = { config: this.model.config, positionOffset: 0, training: false };
      const ids = tf.tensor2d(batch.input, [batch.batchSize, batch.seqLen], 'int32');
      let logits: tf.Tensor | null = null;
      try {
        logits = await drive(evalLayers(this.model.layers, params, ids, ctx, tp));
        return await drive(evalLoss(logits, batch, Math.max(masked, 1), tp));
      } finally {
        tf.dispose([ids, ...(logits ? [logits] : [])]);
      }
    } finally {
      tf.dispose([...params.values()]);
    }
  }

  /**
   * Makes the whole model readable on this rank until releaseParams(): a no-op where every rank
   * holds all parameters; under ZeRO-3 an all-gather of the shards, so every rank must call it
   * (DeepSpeed's GatheredParameters). evalLoss, generate and the profiler then run.
   */
  async gatherParams(): Promise<void> {
    const stage = this.opts.stage;
    if (this.flat.data.length >= this.flat.numel || !stage.gatherFullParams) return;
    this.gathered = await stage.gatherFullParams();
  }

  /** Frees what gatherParams() gathered (the next step's parameters are the shards again). */
  releaseParams(): void {
    this.gathered = null;
  }

  /** Per-layer params, FLOPs and forward time on the last micro-batch trained on (flops_profiler). */
  async profileLastBatch(): Promise<{ layers: LayerProfile[]; batchSize: number; seqLen: number }> {
    // Each rank profiles the layers it runs: its pipeline stage's, on its tensor-parallel slices.
    const batch = this.lastBatch;
    if (!batch) throw new InputError('Engine.profileLastBatch: no step has run yet');
    const own = this.gathered === null;
    if (own) await this.gatherParams(); // every rank profiles, so every rank gathers
    const params = uploadParams(this.flat, this.gathered ?? this.flat.data);
    try {
      return { layers: await profileForward(this.model, params, batch), batchSize: batch.batchSize, seqLen: batch.seqLen };
    } finally {
      tf.dispose([...params.values()]);
      if (own) this.releaseParams();
    }
  }

  /** Greedy continuations of token-id prompts (evaluation; no KV cache). */
  generate(prompts: readonly number[][], maxNewTokens: number, eosId: number | null): number[][] {
    this.wholeModel('generate');
    syncReadable('generate', 'generateAsync');
    const params = uploadParams(this.flat, this.gathered ?? this.flat.data);
    try {
      return greedyGenerate(this.model, params, prompts, { maxNewTokens, eosId });
    } finally {
      tf.dispose([...params.values()]);
    }
  }

  /** generate(), on every backend (the webgpu backend reads tensors only asynchronously). */
  async generateAsync(prompts: readonly number[][], maxNewTokens: number, eosId: number | null): Promise<number[][]> {
    this.wholeModel('generate');
    const params = uploadParams(this.flat, this.gathered ?? this.flat.data);
    try {
      return await greedyGenerateAsync(this.model, params, prompts, { maxNewTokens, eosId });
    } finally {
      tf.dispose([...params.values()]);
    }
  }

  private wholeModel(what: string): void {
    const why = this.opts.runner?.wholeModelUnavailable ?? null;
    if (why !== null) throw new NotImplementedError(`Engine: ${what} ${why}${what === 'evalLoss' ? '; evalBatch() runs on every layout' : ''}`);
    const tp = this.opts.tensorParallel;
    if (tp) throw new NotImplementedError(`Engine: ${what} is not built for tensor parallelism (this rank holds tensor-parallel part ${tp.rank} of ${tp.size} of each layer)${what === 'evalLoss' ? '; evalBatch() runs on every layout' : ''}`);
  }
}

/**
 * Every input id inside the vocabulary. Checked on the host, on every rank (a pipeline stage that
 * never embeds included, so all ranks of a pipe or tp group stop together): a tensor-parallel
 * embedding gives a zero row for an id no rank holds, so a bad id would otherwise train silently
 * there, where the 1-rank run's lookup throws.
 */
function checkTokenIds(mb: MicroBatch, vocabSize: number, where: string): void {
  const ids = mb.input;
  for (let i = 0; i < ids.length; i++) {
    const id = ids[i]!;
    if (!(id >= 0 && id < vocabSize) || !Number.isInteger(id))
      throw new InputError(`${where}: input token id ${id} at position ${i} (sequence ${Math.floor(i / mb.seqLen)}, token ${i % mb.seqLen}) is outside the model's vocabulary [0, ${vocabSize})`);
  }
}

/** The synchronous readers refuse the webgpu backend by name (its dataSync needs OffscreenCanvas, which Node lacks). */
function syncReadable(what: string, instead: string): void {
  if (tf.getBackend() === 'webgpu') throw new DeepscaleError('backend_error', `Engine.${what} reads tensors synchronously, which the webgpu backend cannot do in Node; use Engine.${instead}(), which runs on every backend`);
}
