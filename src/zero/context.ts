/**
 * What every stage is built from: its slice of the config, the process group, the model. The
 * chooser (choose.ts) fills it once; stages read it and never the whole config.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { ProcessGroup, WireDtype } from '../runtime/comm/index.ts';
import type { FlatParams } from '../runtime/engine/flat_params.ts';
import type { StepHooks } from '../runtime/engine/reducer.ts';
import { uploadParams, uploadedHooks } from '../runtime/engine/executor.ts';
import type { Model } from '../models/types.ts';
import type { Optimizer } from '../runtime/optim/types.ts';
import { scaleInPlace, clipFactor } from '../runtime/optim/clip.ts';
import type { ParamRange } from '../runtime/optim/types.ts';
import { countedSumSquares, type ModelParallelNorm, type NormPlan } from './norm.ts';

export interface ZeroContext {
  readonly pg: ProcessGroup | null;
  readonly rank: number;
  readonly worldSize: number;
  readonly model: Model;
  readonly seed: number;
  /** The optimizer over `numel` elements of a local buffer (from 0). */
  readonly createOptimizer: (numel: number) => Optimizer;
  /** reduce_bucket_size, in elements. */
  readonly reduceBucketElems: number;
  /** allgather_bucket_size, in elements. */
  readonly allgatherBucketElems: number;
  /** Gradients on the wire (fp16 is scaled per bucket, see wire.ts). */
  readonly wire: WireDtype;
  /** zero_optimization.reduce_scatter. */
  readonly reduceScatter: boolean;
  /** stage3_param_persistence_threshold, in elements. */
  readonly persistenceThreshold: number;
  /** zero_optimization.overlap_comm: gradient buckets reduce while backward goes on. */
  readonly overlap: boolean;
  /** stage3_prefetch_bucket_size: the next layer's gather starts early when it has at most this many elements. */
  readonly prefetchElems: number;
  /** offload_optimizer cpu: the optimizer steps on host workers, so shard buffers live in SharedArrayBuffers. */
  readonly offload: boolean;
  /** Pipeline stages / tensor-parallel ranks: the group whose partial norms make the global one (norm.ts). */
  readonly modelParallel?: ModelParallelNorm;
}

/** [n] floats, in a SharedArrayBuffer when the optimizer runs on host workers. */
export function floats(ctx: ZeroContext, n: number): Float32Array {
  return ctx.offload ? new Float32Array(new SharedArrayBuffer(4 * n)) : new Float32Array(n);
}

/** An optimizer that can also step off the compute thread (offload/host_adam.ts). */
type MaybeAsync = Optimizer & { stepAsync?(params: Float32Array, grads: Float32Array, lr: number, segments: readonly ParamRange[]): Promise<void> };

/**
 * Σ over ranks of a float64 scalar, the same on every rank: each rank sends x as two float32
 * (hi + lo carries ~48 bits) through one all-gather and every rank adds them in rank order.
 */
export async function sumScalarAcross(pg: ProcessGroup | null, x: number): Promise<number> {
  if (!pg || pg.worldSize === 1) return x;
  const hi = Math.fround(x);
  const out = new Float32Array(2 * pg.worldSize);
  await pg.allGather(new Float32Array([hi, x - hi]), out);
  let s = 0;
  for (let k = 0; k < pg.worldSize; k++) s += out[2 * k]! + out[2 * k + 1]!;
  return s;
}

/** Bytes this rank has sent so far (0 on one rank). */
export const sentBytes = (pg: ProcessGroup | null): number => pg?.stats().total.sentBytes ?? 0;

/**
 * The boundary's last part, the same for every stage: the global L2 norm from this rank's sum of
 * squares (`across` adds the other data-parallel ranks' partial sums, null when `grads` already is
 * the whole gradient; `norm` counts shared parts once and adds the other model-parallel ranks'
 * sums, see norm.ts), then DeepSpeed's overflow rule (a non-finite norm skips the step and touches
 * nothing), clipping, and the optimizer step on the local buffers.
 */
export async function clipAndStep(a: {
  params: Float32Array;
  grads: Float32Array;
  optimizer: MaybeAsync;
  segments: readonly ParamRange[];
  lr: number;
  maxNorm: number;
  across: ((x: number) => Promise<number>) | null;
  norm: NormPlan;
}): Promise<{ gradNorm: number; overflow: boolean }> {
  const local = countedSumSquares(a.grads, a.norm.counted);
  const data = a.across ? await a.across(local) : local;
  const gradNorm = Math.sqrt(a.norm.acrossModel ? await a.norm.acrossModel(data) : data);
  if (!Number.isFinite(gradNorm)) return { gradNorm, overflow: true };
  scaleInPlace(a.grads, clipFactor(gradNorm, a.maxNorm));
  if (a.optimizer.stepAsync) await a.optimizer.stepAsync(a.params, a.grads, a.lr, a.segments);
  else a.optimizer.step(a.params, a.grads, a.lr, a.segments);
  return { gradNorm, overflow: false };
}

/** Bytes of the optimizer's state buffers as allocated. */
export function optimizerBytes(opt: Optimizer): number {
  return Object.values(opt.state().buffers).reduce((n, b) => n + b.byteLength, 0);
}

/**
 * Stages 0-2 keep whole parameters on every rank: seeded here, rank 0's broadcast so every rank
 * starts equal. Returns the bytes this rank has sent so far, where the first step's count starts.
 */
export async function startReplicated(ctx: ZeroContext, flat: FlatParams): Promise<number> {
  flat.initialize(ctx.seed);
  if (ctx.pg) await ctx.pg.broadcast(flat.data, 0);
  return sentBytes(ctx.pg);
}

/** Stages 0-1: the step's parameters uploaded once, gradients added into flat.grads (zeroed here). */
export function uploadedStepHooks(flat: FlatParams): StepHooks {
  flat.zeroGrads();
  const params = uploadParams(flat);
  return { ...uploadedHooks(flat, params), close: () => tf.dispose([...params.values()]) };
}
