/**
 * Stage 3: parameters are sharded too; each rank holds only its shard of parameters,
 * gradients and Adam's moments (16Ψ/Nd), cut per parameter (param_partition.ts) so that every
 * layer's gather and every gradient bucket splits evenly over the ranks. A layer's parameters
 * are all-gathered just before it runs in forward, freed after, and gathered again for its
 * backward (the executor then recomputes the layer from its saved input: a tape would keep the
 * gathered tensors alive). Gradients go through stage 2's bucketed reduce-scatter, packed per
 * parameter. Parameters smaller than stage3_param_persistence_threshold stay gathered on every
 * rank (refreshed after each step, one all-gather for all of them): small tensors are not
 * worth a collective per layer.
 *
 * Prefetch: every rank walks the same access order (forward 0…L-1, then backward L-1…0), so
 * when layer k is acquired the gather of access k+1 is started at once (if it has at most
 * stage3_prefetch_bucket_size elements). The group runs it right after the current one, its
 * sends are in the kernel while layer k computes, and acquire(k+1) finds it under way.
 */
import * as tf from '@tensorflow/tfjs-core';
import type { Layer } from '../models/types.ts';
import { FlatParams, type ParamSegment } from '../runtime/engine/flat_params.ts';
import type { FullState, MemoryReport, StepHooks, StepOutcome, ZeroLayout, ZeroStage } from '../runtime/engine/reducer.ts';
import type { Optimizer, ParamRange } from '../runtime/optim/types.ts';
import { GradBuckets } from './buckets.ts';
import { normPlan, type NormPlan } from './norm.ts';
import { clipAndStep, floats, optimizerBytes, sentBytes, sumScalarAcross, type ZeroContext } from './context.ts';
import { ParamGather } from './layer_gather.ts';
import { ParamPartition } from './param_partition.ts';
import { loadOptimizerShard, shardFiles } from './sharded_state.ts';
import { assert } from '../errors.ts';

export class Stage3 implements ZeroStage {
  readonly stage = 3;
  readonly flat: FlatParams;
  readonly optimizer: Optimizer;
  /** Which gradients count in the clipping norm, and the model-parallel sum (norm.ts). */
  private readonly norm: NormPlan;
  private readonly part: ParamPartition;
  private readonly segments: readonly ParamRange[];
  private readonly ownParams: Float32Array;
  private readonly ownGrads: Float32Array;
  private readonly buckets: GradBuckets;
  /** The persistent (small) parameters, full on every rank, in `residentValues`. */
  private readonly resident: ParamGather;
  private readonly residentValues: Float32Array;
  /** Per layer: its parameters that are not resident. */
  private readonly layerGathers = new Map<Layer, ParamGather>();
  /** The layers with something to gather, in the order one micro-batch acquires them. */
  private readonly accessOrder: Layer[];
  private sent = 0;
  /** The gather plan for the whole model (evaluation), made on first use. */
  private allGather: ParamGather | null = null;

  private constructor(private readonly ctx: ZeroContext) {
    this.flat = FlatParams.forModel(ctx.model, 1, { data: false, grads: false });
    this.part = new ParamPartition(this.flat.segments, ctx.worldSize, ctx.rank);
    this.segments = this.part.localSegments();
    this.optimizer = ctx.createOptimizer(this.part.shardSize);
    this.ownParams = floats(ctx, this.part.shardSize);
    this.ownGrads = floats(ctx, this.part.shardSize);
    this.buckets = new GradBuckets(ctx.pg, this.part, this.ownGrads, { bucketElems: ctx.reduceBucketElems, wire: ctx.wire, reduceScatter: ctx.reduceScatter, overlap: ctx.overlap });
    const isResident = (s: ParamSegment): boolean => s.numel < ctx.persistenceThreshold;
    this.resident = new ParamGather(this.flat.segments.filter(isResident), this.part);
    this.residentValues = new Float32Array(this.resident.numel);
    for (const layer of ctx.model.layers) {
      const names = [...new Set(layer.params.map((p) => p.name))];
      this.layerGathers.set(layer, new ParamGather(names.map((n) => this.flat.segment(n)).filter((s) => !isResident(s)), this.part));
    }
    const gathered = ctx.model.layers.filter((l) => this.layerGathers.get(l)!.segments.length > 0);
    this.accessOrder = [...gathered, ...[...gathered].reverse()];
    this.norm = normPlan(ctx.modelParallel, this.flat, this.segments, this.part.shardSize);
  }

  /** Every rank initializes the full model from the seed once (transient [padded]), keeps its shard, broadcast from rank 0 first. */
  static async create(ctx: ZeroContext): Promise<Stage3> {
    const s = new Stage3(ctx);
    const full = new Float32Array(s.flat.padded);
    s.flat.initialize(ctx.seed, full);
    if (ctx.pg) await ctx.pg.broadcast(full, 0);
    s.adoptFull(full);
    s.sent = sentBytes(ctx.pg);
    return s;
  }

  private adoptFull(full: Float32Array): void {
    this.part.shardOf(full, this.ownParams);
    for (const seg of this.resident.segments) this.resident.view(this.residentValues, seg.name).set(full.subarray(seg.offset, seg.offset + seg.numel));
  }

  get worldSize(): number {
    return this.ctx.worldSize;
  }

  sumScalar(x: number): Promise<number> {
    return sumScalarAcross(this.ctx.pg, x);
  }

  beginStep(): StepHooks {
    this.ownGrads.fill(0);
    const { pg } = this.ctx;
    const tensorOf = (seg: ParamSegment, values: Float32Array): tf.Tensor => tf.tensor(values, [...seg.shape], 'float32');
    const resident = new Map(this.resident.segments.map((s) => [s.name, tensorOf(s, this.resident.view(this.residentValues, s.name))]));
    const live = new Map<string, tf.Tensor>();
    const order = this.accessOrder;
    let k = 0;
    let prefetched: { layer: Layer; values: Promise<Float32Array> } | null = null;
    return {
      acquire: async (layer) => {
        const g = this.layerGathers.get(layer)!;
        if (g.segments.length === 0) return;
        assert(order[k] === layer, () => `ZeRO-3: layer ${layer.name} acquired out of the access order (expected ${order[k]?.name})`);
        const pending = prefetched?.layer === layer ? prefetched.values : g.gather(pg, this.ownParams);
        prefetched = null;
        k = (k + 1) % order.length;
        const next = k === 0 ? null : order[k]!;
        const ng = next ? this.layerGathers.get(next)! : null;
        if (next && ng && ng.numel <= this.ctx.prefetchElems) {
          prefetched = { layer: next, values: ng.gather(pg, this.ownParams) };
          prefetched.values.catch(() => {});
        }
        const values = await pending;
        for (const s of g.segments) live.set(s.name, tensorOf(s, g.view(values, s.name)));
      },
      param: (name) => live.get(name) ?? resident.get(name)!,
      release: (layer) => {
        for (const s of this.layerGathers.get(layer)!.segments) {
          live.get(s.name)?.dispose();
          live.delete(s.name);
        }
      },
      addGrad: (name, g) => this.buckets.add(this.flat.segment(name).offset, g),
      afterBackward: () => this.buckets.maybeFlush(),
      releasesParams: true,
      close: () => {
        tf.dispose([...resident.values(), ...live.values()]);
        live.clear();
      },
    };
  }

  async endStep(lr: number, maxNorm: number): Promise<StepOutcome> {
    const { pg } = this.ctx;
    await this.buckets.flush();
    const r = await clipAndStep({
      params: this.ownParams, grads: this.ownGrads, optimizer: this.optimizer, segments: this.segments, lr, maxNorm,
      across: pg ? (x) => sumScalarAcross(pg, x) : null, norm: this.norm,
    });
    if (!r.overflow) await this.resident.gather(pg, this.ownParams, this.residentValues);
    const now = sentBytes(pg);
    const commBytes = now - this.sent;
    this.sent = now;
    return { ...r, commBytes };
  }

  /** The whole model [padded]: every non-resident parameter all-gathered, the residents copied. */
  async gatherFullParams(): Promise<Float32Array> {
    const all = (this.allGather ??= new ParamGather(this.flat.segments.filter((s) => !this.resident.segments.includes(s)), this.part));
    const values = await all.gather(this.ctx.pg, this.ownParams);
    const full = new Float32Array(this.flat.padded);
    for (const s of all.segments) full.set(all.view(values, s.name), s.offset);
    for (const s of this.resident.segments) full.set(this.resident.view(this.residentValues, s.name), s.offset);
    return full;
  }

  memoryReport(): MemoryReport {
    const params = this.ownParams.byteLength + this.residentValues.byteLength;
    const grads = this.ownGrads.byteLength;
    const optimizer = optimizerBytes(this.optimizer);
    // With prefetch, two layers' gathers can be alive at once.
    const gathers = (this.ctx.prefetchElems > 0 ? 2 : 1) * Math.max(0, ...[...this.layerGathers.values()].map((g) => g.bytes));
    const buffers = this.buckets.bufferBytes + gathers;
    return { stage: 3, worldSize: this.worldSize, numel: this.flat.numel, params, grads, optimizer, buffers, total: params + grads + optimizer + buffers, stepTensors: this.residentValues.byteLength + 4 * Math.max(0, ...[...this.layerGathers.values()].map((g) => g.numel)), optimizerOffloaded: this.ctx.offload };
  }

  checkpointFiles(): { files: Record<string, Float32Array>; layout: ZeroLayout } {
    return shardFiles(3, this.ownParams, this.optimizer, this.part, this.flat.numel, 'per-parameter');
  }

  loadFull(state: FullState): void {
    loadOptimizerShard(this.optimizer, state, (full) => this.part.shardOf(full));
    this.adoptFull(state.params);
  }
}
