/**
 * Where this rank sits in a pipe × data grid (tensor parallelism is not built: model axis 1),
 * the process groups it needs, and its stage's slice of the model with the parameters the
 * whole model would start from (so a pipelined run from a seed equals the 1-rank run from it).
 */
import { ConfigError, NotImplementedError } from '../errors.ts';
import type { Model } from '../models/types.ts';
import type { ProcessGroup } from '../runtime/comm/index.ts';
import { FlatParams } from '../runtime/engine/flat_params.ts';
import type { ZeroStage } from '../runtime/engine/reducer.ts';
import { partitionLayers, stageModel, type PartitionMethod } from './partition.ts';
import { PipelineRunner } from './pipeline_runner.ts';
import { Topology } from './topology.ts';

export interface PipelinePlace {
  readonly topology: Topology;
  readonly stage: number;
  readonly dpRank: number;
  readonly dpSize: number;
  /** The data-parallel group of this stage (null when dp = 1). */
  readonly dataPg: ProcessGroup | null;
  readonly pipePg: ProcessGroup;
  readonly tiedPg: ProcessGroup | null;
  readonly stageModel: Model;
  readonly bounds: readonly number[];
}

const TIED = 'model.embed_tokens.weight';

export function pipelinePlace(opts: {
  readonly pg: ProcessGroup;
  readonly worldSize: number;
  readonly rank: number;
  readonly stages: number;
  readonly partition: PartitionMethod;
  readonly tp: number;
  readonly model: Model;
}): PipelinePlace {
  if (opts.tp > 1) throw new NotImplementedError('tensor_parallel.autotp_size > 1 (tensor parallelism is not built; pipeline.stages is)');
  const topology = Topology.fromWorld(opts.worldSize, 1, opts.stages);
  const c = topology.coordOf(opts.rank);
  const bounds = partitionLayers(opts.model.layers, opts.stages, opts.partition);
  const sm = stageModel(opts.model, bounds, c.pipe);
  const pipeRanks = topology.groupOf(opts.rank, 'pipe');
  const dataRanks = topology.groupOf(opts.rank, 'data');
  const pipePg = opts.pg.newGroup(pipeRanks);
  const dataPg = dataRanks.length > 1 ? opts.pg.newGroup(dataRanks) : null;
  const tiedRanks = [pipeRanks[0]!, pipeRanks[pipeRanks.length - 1]!];
  const tied = opts.model.config.tieWordEmbeddings && (c.pipe === 0 || c.pipe === opts.stages - 1);
  const tiedPg = tied ? opts.pg.newGroup(tiedRanks) : null;
  return { topology, stage: c.pipe, dpRank: c.data, dpSize: topology.data, dataPg, pipePg, tiedPg, stageModel: sm, bounds };
}

/**
 * The parameters of the whole model initialized from the seed, copied by name into the stage's
 * flat buffer (the flat buffer's own initialization walks only the stage's slice, so it would
 * draw other numbers).
 */
export function initializeLikeWholeModel(model: Model, seed: number, stage: ZeroStage): void {
  const whole = FlatParams.forModel(model);
  whole.initialize(seed);
  const flat = stage.flat;
  if (flat.data.length < flat.numel) throw new ConfigError('zero_optimization.stage', `pipeline parallelism keeps each stage's parameters whole: ZeRO stage ${stage.stage} shards them (use stage 0 or 1)`);
  for (const s of flat.segments) flat.data.set(whole.view(s.name), s.offset);
}

export function pipelineRunner(place: PipelinePlace, stage: ZeroStage, recompute: boolean): PipelineRunner {
  return new PipelineRunner({
    stageModel: place.stageModel, stage: place.stage, stages: place.topology.pipe, pipe: place.pipePg, tied: place.tiedPg, tiedParam: TIED, flat: stage.flat, recompute, tp: null,
  });
}

/** DeepSpeed's partition_method, as validated at load (config/refusals.ts refuses "type"). */
export function pipelinePartition(cfg: { readonly pipeline: { readonly partition_method: string } }): PartitionMethod {
  const m = cfg.pipeline.partition_method;
  if (m === 'parameters' || m === 'uniform') return m;
  throw new ConfigError('pipeline.partition_method', `"${m}" is not a partition deepscale builds (use "parameters" or "uniform")`);
}
