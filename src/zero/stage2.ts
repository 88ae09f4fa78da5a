/**
 * Stage 2: gradients are sharded too. Every rank keeps full parameters (4Ψ), but only its
 * shard of the gradients (4Ψ/Nd) and of Adam's moments (8Ψ/Nd). Backward hands each layer's
 * gradients to bucketed reduce-scatters (buckets.ts), reduced between layers as buckets fill;
 * the global norm for clipping comes from per-shard partial sums (one scalar all-gather). Each
 * rank steps its shard and the updated shards are all-gathered.
 */
import * as tf from '@tensorflow/tfjs-core';
import { FlatParams } from '../runtime/engine/flat_params.ts';
import { uploadParams } from '../runtime/engine/executor.ts';
import type { FullState, MemoryReport, StepHooks, StepOutcome, ZeroLayout, ZeroStage } from '../runtime/engine/reducer.ts';
import type { Optimizer, ParamRange } from '../runtime/optim/types.ts';
import { GradBuckets } from './buckets.ts';
import { allGatherShards } from './collectives.ts';
import { normPlan, type NormPlan } from './norm.ts';
import { clipAndStep, floats, optimizerBytes, sentBytes, startReplicated, sumScalarAcross, type ZeroContext } from './context.ts';
import { flatPacking, Partition } from './partition.ts';
import { loadOptimizerShard, shardFiles, shardOf } from './sharded_state.ts';

export class Stage2 implements ZeroStage {
  readonly stage = 2;
  readonly flat: FlatParams;
  readonly optimizer: Optimizer;
  /** Which gradients count in the clipping norm, and the model-parallel sum (norm.ts). */
  private readonly norm: NormPlan;
  private readonly part: Partition;
  private readonly segments: readonly ParamRange[];
  private readonly ownGrads: Float32Array;
  private readonly buckets: GradBuckets;
  private sent = 0;

  private constructor(private readonly ctx: ZeroContext) {
    this.flat = FlatParams.forModel(ctx.model, ctx.worldSize, { data: true, grads: false, shared: ctx.offload });
    this.part = new Partition(this.flat.padded, ctx.worldSize, ctx.rank);
    this.segments = this.part.localSegments(this.flat.segments);
    this.optimizer = ctx.createOptimizer(this.part.shardSize);
    this.ownGrads = floats(ctx, this.part.shardSize);
    this.buckets = new GradBuckets(ctx.pg, flatPacking(this.part), this.ownGrads, { bucketElems: ctx.reduceBucketElems, wire: ctx.wire, reduceScatter: ctx.reduceScatter, overlap: ctx.overlap });
    this.norm = normPlan(ctx.modelParallel, this.flat, this.segments, this.part.shardSize);
  }

  static async create(ctx: ZeroContext): Promise<Stage2> {
    const s = new Stage2(ctx);
    s.sent = await startReplicated(ctx, s.flat);
    return s;
  }

  get worldSize(): number {
    return this.ctx.worldSize;
  }

  sumScalar(x: number): Promise<number> {
    return sumScalarAcross(this.ctx.pg, x);
  }

  beginStep(): StepHooks {
    this.ownGrads.fill(0);
    const params = uploadParams(this.flat);
    return {
      acquire: () => {},
      param: (name) => params.get(name)!,
      release: () => {},
      addGrad: (name, g) => this.buckets.add(this.flat.segment(name).offset, g),
      afterBackward: () => this.buckets.maybeFlush(),
      releasesParams: false,
      close: () => tf.dispose([...params.values()]),
    };
  }

  async endStep(lr: number, maxNorm: number): Promise<StepOutcome> {
    const { pg, allgatherBucketElems } = this.ctx;
    const { part, flat } = this;
    await this.buckets.flush();
    const r = await clipAndStep({
      params: flat.data.subarray(part.lo, part.hi), grads: this.ownGrads, optimizer: this.optimizer, segments: this.segments, lr, maxNorm,
      across: pg ? (x) => sumScalarAcross(pg, x) : null, norm: this.norm,
    });
    if (pg && !r.overflow) await allGatherShards(pg, flat.data, part, allgatherBucketElems);
    const now = sentBytes(pg);
    const commBytes = now - this.sent;
    this.sent = now;
    return { ...r, commBytes };
  }

  memoryReport(): MemoryReport {
    const params = this.flat.data.byteLength;
    const grads = this.ownGrads.byteLength;
    const optimizer = optimizerBytes(this.optimizer);
    const buffers = this.buckets.bufferBytes;
    return { stage: 2, worldSize: this.worldSize, numel: this.flat.numel, params, grads, optimizer, buffers, total: params + grads + optimizer + buffers, stepTensors: 4 * this.flat.numel, optimizerOffloaded: this.ctx.offload };
  }

  checkpointFiles(): { files: Record<string, Float32Array>; layout: ZeroLayout } {
    return shardFiles(2, this.flat.data.subarray(this.part.lo, this.part.hi), this.optimizer, this.part, this.flat.numel, 'flat');
  }

  loadFull(state: FullState): void {
    loadOptimizerShard(this.optimizer, state, (full) => shardOf(full, this.part));
    this.flat.data.fill(0);
    this.flat.data.set(state.params);
  }
}
