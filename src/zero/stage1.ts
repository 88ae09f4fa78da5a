/**
 * Stage 1: optimizer state is sharded. Every rank keeps full parameters and full gradients
 * (4Ψ + 4Ψ), but Adam's moments only for its shard (8Ψ/Nd). At the boundary the gradients are
 * reduce-scattered (each rank needs only its shard's sum), each rank clips and steps its shard,
 * and the updated shards are all-gathered into every rank's parameters.
 */
import { FlatParams } from '../runtime/engine/flat_params.ts';
import type { FullState, MemoryReport, StepHooks, StepOutcome, ZeroLayout, ZeroStage } from '../runtime/engine/reducer.ts';
import type { Optimizer, ParamRange } from '../runtime/optim/types.ts';
import { allGatherShards, allReduceBuckets, reduceScatterBuckets } from './collectives.ts';
import { normPlan, type NormPlan } from './norm.ts';
import { clipAndStep, optimizerBytes, sentBytes, startReplicated, sumScalarAcross, uploadedStepHooks, type ZeroContext } from './context.ts';
import { Partition } from './partition.ts';
import { loadOptimizerShard, shardFiles, shardOf } from './sharded_state.ts';

export class Stage1 implements ZeroStage {
  readonly stage = 1;
  readonly flat: FlatParams;
  readonly optimizer: Optimizer;
  /** Which gradients count in the clipping norm, and the model-parallel sum (norm.ts). */
  private readonly norm: NormPlan;
  private readonly part: Partition;
  private readonly segments: readonly ParamRange[];
  /** This rank's shard of the full gradient, where the reduce-scatter leaves its sum: a view. */
  private readonly ownGrads: Float32Array;
  private sent = 0;

  private constructor(private readonly ctx: ZeroContext) {
    this.flat = FlatParams.forModel(ctx.model, ctx.worldSize, { data: true, grads: true, shared: ctx.offload });
    this.part = new Partition(this.flat.padded, ctx.worldSize, ctx.rank);
    this.segments = this.part.localSegments(this.flat.segments);
    this.optimizer = ctx.createOptimizer(this.part.shardSize);
    this.ownGrads = this.flat.grads.subarray(this.part.lo, this.part.hi);
    this.norm = normPlan(ctx.modelParallel, this.flat, this.segments, this.part.shardSize);
  }

  static async create(ctx: ZeroContext): Promise<Stage1> {
    const s = new Stage1(ctx);
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
    return uploadedStepHooks(this.flat);
  }

  async endStep(lr: number, maxNorm: number): Promise<StepOutcome> {
    const { pg, reduceBucketElems, allgatherBucketElems, wire } = this.ctx;
    const { part, flat } = this;
    // The reduce-scatter packs its input into a copy, so its output may be the shard's own view.
    if (pg && this.ctx.reduceScatter) await reduceScatterBuckets(pg, flat.grads, this.ownGrads, part, reduceBucketElems, wire);
    else if (pg) await allReduceBuckets(pg, flat.grads, flat.padded, reduceBucketElems, wire);
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
    const grads = this.flat.grads.byteLength;
    const optimizer = optimizerBytes(this.optimizer);
    return { stage: 1, worldSize: this.worldSize, numel: this.flat.numel, params, grads, optimizer, buffers: 0, total: params + grads + optimizer, stepTensors: 4 * this.flat.numel, optimizerOffloaded: this.ctx.offload };
  }

  checkpointFiles(): { files: Record<string, Float32Array>; layout: ZeroLayout } {
    return shardFiles(1, this.flat.data.subarray(this.part.lo, this.part.hi), this.optimizer, this.part, this.flat.numel, 'flat');
  }

  loadFull(state: FullState): void {
    loadOptimizerShard(this.optimizer, state, (full) => shardOf(full, this.part));
    this.flat.data.fill(0);
    this.flat.data.set(state.params);
  }
}
