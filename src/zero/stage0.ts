/**
 * Stage 0, plain data parallelism: every rank holds the full parameters, gradients and
 * optimizer state (16Ψ bytes with float32 Adam); gradients are summed with a bucketed
 * all-reduce, and every rank takes the same step on identical sums.
 */
import { FlatParams } from '../runtime/engine/flat_params.ts';
import type { FullState, MemoryReport, StepHooks, StepOutcome, ZeroLayout, ZeroStage } from '../runtime/engine/reducer.ts';
import type { Optimizer } from '../runtime/optim/types.ts';
import { allReduceBuckets } from './collectives.ts';
import { normPlan, type NormPlan } from './norm.ts';
import { clipAndStep, optimizerBytes, sentBytes, startReplicated, sumScalarAcross, uploadedStepHooks, type ZeroContext } from './context.ts';

export class Stage0 implements ZeroStage {
  readonly stage = 0;
  readonly flat: FlatParams;
  readonly optimizer: Optimizer;
  /** Which gradients count in the clipping norm, and the model-parallel sum (norm.ts). */
  private readonly norm: NormPlan;
  private sent: number;

  private constructor(private readonly ctx: ZeroContext) {
    this.flat = FlatParams.forModel(ctx.model);
    this.optimizer = ctx.createOptimizer(this.flat.numel);
    this.sent = 0;
    this.norm = normPlan(ctx.modelParallel, this.flat, this.flat.segments, this.flat.numel);
  }

  /** Initialized from the seed; rank 0's parameters are broadcast so every rank starts equal. */
  static async create(ctx: ZeroContext): Promise<Stage0> {
    const s = new Stage0(ctx);
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
    const { pg, reduceBucketElems, wire } = this.ctx;
    const { flat } = this;
    if (pg) await allReduceBuckets(pg, flat.grads, flat.numel, reduceBucketElems, wire);
    const r = await clipAndStep({
      params: flat.data, grads: flat.grads.subarray(0, flat.numel), optimizer: this.optimizer, segments: flat.segments, lr, maxNorm, across: null, norm: this.norm,
    });
    const now = sentBytes(pg);
    const commBytes = now - this.sent;
    this.sent = now;
    return { ...r, commBytes };
  }

  memoryReport(): MemoryReport {
    const params = this.flat.data.byteLength;
    const grads = this.flat.grads.byteLength;
    const optimizer = optimizerBytes(this.optimizer);
    return { stage: 0, worldSize: this.worldSize, numel: this.flat.numel, params, grads, optimizer, buffers: 0, total: params + grads + optimizer, stepTensors: 4 * this.flat.numel, optimizerOffloaded: false };
  }

  checkpointFiles(): { files: Record<string, Float32Array>; layout: ZeroLayout } {
    const files: Record<string, Float32Array> = { params: this.flat.data.subarray(0, this.flat.numel) };
    for (const [k, v] of Object.entries(this.optimizer.state().buffers)) files[`optim.${k}`] = v;
    const { numel } = this.flat;
    return { files, layout: { stage: 0, worldSize: this.worldSize, numel, shardSize: numel, sharded: { params: false, optimizer: false } } };
  }

  loadFull(state: FullState): void {
    this.optimizer.loadState({ buffers: state.optimizer, step: state.optimizerStep });
    this.flat.data.set(state.params);
  }
}
