/**
 * Where this rank sits in the pipe × data × model grid, the process groups it needs (created in
 * one order on every rank), and its share of the model: its pipeline stage's slice of the layer
 * list, each layer on its tensor-parallel part, with the parameters the whole model would start
 * from (so a 3D run from a seed equals the 1-rank run from it).
 */
import { ConfigError } from '../errors.ts';
import { buildLlama } from '../models/llama.ts';
import type { Model } from '../models/types.ts';
import type { ProcessGroup } from '../runtime/comm/index.ts';
import type { TensorParallel } from '../runtime/engine/executor.ts';
import { Rng } from '../data/rng.ts';
import type { ZeroStage } from '../runtime/engine/reducer.ts';
import { partitionLayers, stageModel, type PartitionMethod } from './partition.ts';
import { PipelineRunner } from './pipeline_runner.ts';
import { tensorParallelGroup, tensorParallelLlama } from './tensor_parallel.ts';
import { Topology, type Coord } from './topology.ts';

export interface ParallelPlace {
  readonly topology: Topology;
  readonly coord: Coord;
  readonly stage: number;
  readonly dpRank: number;
  readonly dpSize: number;
  /** The data-parallel group of this (stage, tp rank) (null when dp = 1): the ZeRO stage spans it. */
  readonly dataPg: ProcessGroup | null;
  /** The pipe group (null when pp = 1): group rank = stage index. */
  readonly pipePg: ProcessGroup | null;
  readonly tiedPg: ProcessGroup | null;
  /** The tensor-parallel group's operations for the layer loop (null when tp = 1). */
  readonly tp: TensorParallel | null;
  readonly tpPg: ProcessGroup | null;
  /** Every group of the model axis: the tp group and the sub-groups that sum replicated kv heads' gradients. */
  readonly tpGroups: readonly ProcessGroup[];
  /** What this rank runs: its stage's layers, each on its tp part. */
  readonly stageModel: Model;
  readonly bounds: readonly number[];
}

const TIED = 'model.embed_tokens.weight';

export function parallelPlace(opts: {
  readonly pg: ProcessGroup;
  readonly worldSize: number;
  readonly rank: number;
  readonly stages: number;
  readonly partition: PartitionMethod;
  readonly tp: number;
  readonly model: Model;
}): ParallelPlace {
  const topology = Topology.fromWorld(opts.worldSize, opts.tp, opts.stages);
  const c = topology.coordOf(opts.rank);
  let local = opts.model;
  let tpPart: { tp: TensorParallel; group: ProcessGroup; subgroups: readonly ProcessGroup[] } | null = null;
  if (opts.tp > 1) {
    const plain = buildLlama(opts.model.config);
    if (plain.layers.map((l) => l.name).join() !== opts.model.layers.map((l) => l.name).join())
      throw new ConfigError('tensor_parallel.autotp_size', `tensor parallelism splits deepscale's Llama layers; this model's layer list (${opts.model.layers.map((l) => l.name).join(', ')}) is not buildLlama's: pass initialize({ model }) a ModelConfig`);
    const t = tensorParallelLlama(opts.model.config, opts.tp, c.model);
    local = t.model;
    tpPart = tensorParallelGroup(opts.pg, topology.groupOf(opts.rank, 'model'), c.model, local, t.vocab);
  }
  // Cut on the whole model's layers, so every tp rank of a stage gets the same layers.
  const bounds = partitionLayers(opts.model.layers, opts.stages, opts.partition);
  const sm = opts.stages > 1 ? stageModel(local, bounds, c.pipe) : local;
  const pipeRanks = topology.groupOf(opts.rank, 'pipe');
  const dataRanks = topology.groupOf(opts.rank, 'data');
  const pipePg = opts.stages > 1 ? opts.pg.newGroup(pipeRanks) : null;
  const dataPg = dataRanks.length > 1 ? opts.pg.newGroup(dataRanks) : null;
  const tied = opts.stages > 1 && opts.model.config.tieWordEmbeddings && (c.pipe === 0 || c.pipe === opts.stages - 1);
  const tiedPg = tied ? opts.pg.newGroup([pipeRanks[0]!, pipeRanks[pipeRanks.length - 1]!]) : null;
  return {
    topology, coord: c, stage: c.pipe, dpRank: c.data, dpSize: topology.data, dataPg, pipePg, tiedPg,
    tp: tpPart?.tp ?? null, tpPg: tpPart?.group ?? null, tpGroups: tpPart ? [tpPart.group, ...tpPart.subgroups] : [], stageModel: sm, bounds,
  };
}

/**
 * This rank's parameters as the whole model's initialization from the seed would draw them
 * (FlatParams.initialize walks every parameter in order with one generator), each cut to its
 * tensor-parallel part. Only this rank's elements are drawn: the generator skips the others in
 * O(1) (Rng.skipNormals), so neither the memory nor the time is the whole model's.
 */
export function initializeLikeWholeModel(model: Model, seed: number, stage: ZeroStage): void {
  const flat = stage.flat;
  if (flat.data.length < flat.numel) throw new ConfigError('zero_optimization.stage', `pipeline and tensor parallelism keep each rank's parameters whole: ZeRO stage ${stage.stage} shards them (use stage 0, 1 or 2)`);
  const rng = new Rng(seed);
  const seen = new Set<string>();
  for (const spec of model.layers.flatMap((l) => l.params)) {
    if (seen.has(spec.name)) continue;
    seen.add(spec.name);
    const numel = spec.shape.reduce((a, b) => a * b, 1);
    const seg = flat.byName.get(spec.name);
    if (spec.init.kind !== 'normal') {
      if (seg) flat.view(seg.name).fill(spec.init.kind === 'ones' ? 1 : 0);
      continue;
    }
    if (!seg) {
      rng.skipNormals(numel);
      continue;
    }
    const dst = flat.view(seg.name);
    const std = spec.init.std;
    const sl = seg.slice ?? { fullShape: spec.shape, dim: 0, start: 0, end: spec.shape[0]!, sharedBy: [] };
    const outer = sl.fullShape.slice(0, sl.dim).reduce((a, b) => a * b, 1);
    const inner = sl.fullShape.slice(sl.dim + 1).reduce((a, b) => a * b, 1);
    const n = sl.fullShape[sl.dim]!;
    let pos = 0; // the next element of the full parameter the generator would draw
    let k = 0;
    for (let o = 0; o < outer; o++) {
      const from = (o * n + sl.start) * inner;
      const to = (o * n + sl.end) * inner;
      rng.skipNormals(from - pos);
      for (let i = from; i < to; i++) dst[k++] = rng.normal() * std;
      pos = to;
    }
    rng.skipNormals(numel - pos);
  }
}

export function pipelineRunner(place: ParallelPlace, stage: ZeroStage, recompute: boolean): PipelineRunner {
  return new PipelineRunner({
    stageModel: place.stageModel, stage: place.stage, stages: place.topology.pipe, pipe: place.pipePg!, tied: place.tiedPg, tiedParam: TIED, flat: stage.flat, recompute, tp: place.tp,
  });
}

/** DeepSpeed's partition_method, as validated at load (config/refusals.ts refuses "type"). */
export function pipelinePartition(cfg: { readonly pipeline: { readonly partition_method: string } }): PartitionMethod {
  const m = cfg.pipeline.partition_method;
  if (m === 'parameters' || m === 'uniform') return m;
  throw new ConfigError('pipeline.partition_method', `"${m}" is not a partition deepscale builds (use "parameters" or "uniform")`);
}
