import { keepLast, consolidateCheckpoint, loadCheckpoint, readFlatPart, sameSegments, saveCheckpoint, type HalfDtype } from '../checkpoint/index.ts';
import { cutLocal } from '../checkpoint/assemble.ts';
import type { GridCoord, RankLayout } from '../checkpoint/layout.ts';
import { ConfigError } from '../../errors.ts';
import type { ZeroStage } from './reducer.ts';
import type { ModelConfig } from '../../models/types.ts';
import { checkModelConfig } from './model_check.ts';

/** Where this rank stands in the job, for checkpoint files and the save barrier. */
export interface CheckpointPlace {
  readonly rank: number;
  readonly worldSize: number;
  readonly barrier?: () => Promise<void>;
  /** Storage precision of the saved weights (fp16/bf16 config blocks); optimizer state stays float32. */
  readonly weightDtype: HalfDtype;
  /** train.checkpoint.keep_last: after a save, rank 0 deletes all but the newest this many complete tags. */
  readonly keepLast?: number;
  /**
   * The pipe × data × model grid and this rank's coordinates in it (src/parallel/topology.ts).
   * Absent: no tensor parallelism, the ZeRO stage's group is the data axis and the rest of the
   * world the pipe axis (rank = pipe · D + data), as initialize() lays out pipeline stages.
   */
  readonly grid?: { readonly sizes: GridCoord; readonly coord: GridCoord };
}

/** This rank's place in the grid: the given one, or pipe × data from the ZeRO group's size. */
function gridOf(place: CheckpointPlace, stage: ZeroStage): { sizes: GridCoord; coord: GridCoord } {
  if (place.grid) {
    if (place.grid.sizes.data !== stage.worldSize) throw new ConfigError('zero_optimization', `checkpoint: the grid's data axis is ${place.grid.sizes.data} ranks, the ZeRO stage's group ${stage.worldSize}`);
    return place.grid;
  }
  const sliced = stage.flat.segments.find((s) => s.slice);
  if (sliced) throw new ConfigError('tensor_parallel', `checkpoint: parameter ${sliced.name} is a tensor-parallel slice, but the engine's checkpoint place has no grid (CheckpointPlace.grid) to record whose slice it is`);
  const D = stage.worldSize;
  if (place.worldSize % D !== 0) throw new ConfigError('pipeline.stages', `checkpoint: world size ${place.worldSize} is not a multiple of the ZeRO group's ${D} ranks`);
  return { sizes: { pipe: place.worldSize / D, data: D, model: 1 }, coord: { pipe: Math.floor(place.rank / D), data: place.rank % D, model: 0 } };
}

const layoutName = (g: GridCoord): string => `(pipe ${g.pipe}, data ${g.data}, tensor ${g.model})`;

/**
 * Saves parameters, optimizer state and the step (DeepSpeed's layout: dir/latest, dir/<tag>/
 * manifest + per-rank files), atomically. Each rank writes what it holds: its pipeline stage's
 * parameters, each its tensor-parallel slice, as its ZeRO stage cuts them over the data axis
 * (full copies at stage 0, its shard at 1-3); the manifest's rankLayouts record which.
 */
export async function saveEngineState(
  dir: string,
  tag: string,
  place: CheckpointPlace,
  state: {
    stage: ZeroStage;
    step: number;
    meta: Record<string, unknown>;
    /** Saved as meta.model_config, checked on load. */
    model: ModelConfig;
    /** Text files for the tag folder (tokenizer.json, tokenizer_config.json). */
    textFiles?: Record<string, string>;
  },
): Promise<void> {
  const opt = state.stage.optimizer.state();
  const { files, layout: zero } = state.stage.checkpointFiles();
  const params = files.params!;
  // As DeepSpeed does with bf16/fp16: the weights are stored in half, the optimizer keeps an
  // fp32 master copy, so a resumed run continues exactly.
  if (place.weightDtype !== 'fp32') files['optim.fp32_master'] = params;
  const grid = gridOf(place, state.stage);
  const segments = state.stage.flat.segments.map((s) => ({ name: s.name, shape: s.shape, offset: s.offset, ...(s.slice ? { slice: s.slice } : {}) }));
  const rankLayout: RankLayout = { grid: grid.sizes, coord: grid.coord, segments, zero };
  // meta.layout and meta.zero describe every rank only on a data-parallel grid; otherwise the
  // manifest's rankLayouts say what each rank holds.
  const dataOnly = grid.sizes.pipe === 1 && grid.sizes.model === 1;
  await saveCheckpoint({
    dir,
    tag,
    rank: place.rank,
    worldSize: place.worldSize,
    files,
    rankLayout,
    dtypes: place.weightDtype === 'fp32' ? {} : { params: place.weightDtype },
    barrier: place.barrier,
    textFiles: place.rank === 0 ? state.textFiles : undefined,
    meta: {
      ...state.meta,
      model_config: state.model,
      step: state.step,
      optimizer_step: opt.step,
      grid: grid.sizes,
      ...(dataOnly ? { zero, layout: segments.map(({ name, shape, offset }) => ({ name, shape, offset })) } : {}),
    },
  });
  // After the save's last barrier every rank's files are in place; only rank 0 deletes.
  if (place.keepLast !== undefined && place.rank === 0) await keepLast(dir, place.keepLast);
}

/**
 * Restores what saveEngineState wrote. At the layout that saved it, this rank reads only the
 * flat buffer of its (pipe stage, tp rank), put back from the data axis's shards, and its ZeRO
 * stage takes its shard. At any other layout the parameters this rank holds are put together
 * whole from the ranks that saved them (consolidateCheckpoint), and this rank cuts out its
 * tensor-parallel slices. Returns the step and meta.
 */
export async function loadEngineState(
  dir: string,
  tag: string | undefined,
  place: CheckpointPlace,
  target: { stage: ZeroStage; model: ModelConfig },
): Promise<{ tag: string; step: number; meta: Record<string, unknown> }> {
  const flat = target.stage.flat;
  const grid = gridOf(place, target.stage);
  const own = flat.segments.map((s) => ({ name: s.name, shape: s.shape, offset: s.offset, ...(s.slice ? { slice: s.slice } : {}) }));
  const part = await readFlatPart(dir, tag, grid.coord);
  const saved = part ?? (await consolidateCheckpoint(dir, tag, { names: new Set() }));
  const where = `checkpoint ${dir}/${saved.tag}`;
  checkModelConfig(saved.meta.model_config, target.model, where);
  const g = saved.savedGrid;
  const sameGrid = saved.savedWorldSize === place.worldSize && g.pipe === grid.sizes.pipe && g.data === grid.sizes.data && g.model === grid.sizes.model;
  let state: { params: Float32Array; optimizer: Record<string, Float32Array> };
  if (part && !part.named) {
    // Saved without a layout (saveCheckpoint by hand): only the same flat buffer can take it.
    if (part.params.length !== flat.numel || flat.segments.some((s) => s.slice))
      throw new ConfigError('model', `${where} holds ${part.params.length} parameters with no layout, this rank's model has ${flat.numel}: a different model config`);
    state = part;
  } else if (part && sameGrid && sameSegments(part.segments, own)) {
    state = part;
  } else {
    const ck = await consolidateCheckpoint(dir, saved.tag, { names: new Set(own.map((s) => s.name)) });
    const mismatch = (why: string): never => {
      throw new ConfigError('model', `${where}, saved at layout ${layoutName(g)}, does not fit this rank's model at layout ${layoutName(grid.sizes)}: ${why}`);
    };
    const cut = (full: Float32Array): Float32Array => cutLocal(ck.layout!, full, own, flat.numel, mismatch);
    state = { params: cut(ck.params), optimizer: Object.fromEntries(Object.entries(ck.optimizer).map(([k, v]) => [k, cut(v)])) };
  }
  target.stage.loadFull({ params: state.params, optimizer: state.optimizer, optimizerStep: saved.optimizerStep });
  if (target.stage.loadRankFiles) {
    const mine = sameGrid ? (await loadCheckpoint({ dir, tag: saved.tag, rank: place.rank, worldSize: place.worldSize })).files : null;
    target.stage.loadRankFiles(mine);
  }
  return { tag: saved.tag, step: saved.step, meta: saved.meta };
}
