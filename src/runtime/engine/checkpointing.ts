import { keepLast, consolidateCheckpoint, loadCheckpoint, saveCheckpoint, type HalfDtype } from '../checkpoint/index.ts';
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
}

/**
 * Saves parameters, optimizer state and the step (DeepSpeed's layout: dir/latest, dir/<tag>/
 * manifest + per-rank files), atomically. Each rank writes what its ZeRO stage holds: full copies
 * at stage 0, its shard of parameters and optimizer state at stages 1-3 (meta.zero says which).
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
  await saveCheckpoint({
    dir,
    tag,
    rank: place.rank,
    worldSize: place.worldSize,
    files,
    dtypes: place.weightDtype === 'fp32' ? {} : { params: place.weightDtype },
    barrier: place.barrier,
    textFiles: place.rank === 0 ? state.textFiles : undefined,
    meta: {
      ...state.meta,
      model_config: state.model,
      step: state.step,
      optimizer_step: opt.step,
      zero,
      layout: state.stage.flat.segments.map((s) => ({ name: s.name, shape: s.shape, offset: s.offset })),
    },
  });
  // After the save's last barrier every rank's files are in place; only rank 0 deletes.
  if (place.keepLast !== undefined && place.rank === 0) await keepLast(dir, place.keepLast);
}

/**
 * Restores what saveEngineState wrote, at any world size and stage: the saved shards are read
 * whole (consolidateCheckpoint) and this rank's stage takes its part. Returns the step and meta.
 */
export async function loadEngineState(
  dir: string,
  tag: string | undefined,
  place: CheckpointPlace,
  target: { stage: ZeroStage; model: ModelConfig },
): Promise<{ tag: string; step: number; meta: Record<string, unknown> }> {
  const ck = await consolidateCheckpoint(dir, tag);
  checkModelConfig(ck.meta.model_config, target.model, `checkpoint ${dir}/${ck.tag}`);
  const numel = target.stage.flat.numel;
  if (ck.params.length !== numel)
    throw new ConfigError('model', `checkpoint ${dir}/${ck.tag} holds ${ck.params.length} parameters, the model has ${numel}: a different model config`);
  target.stage.loadFull({ params: ck.params, optimizer: ck.optimizer, optimizerStep: ck.optimizerStep });
  if (target.stage.loadRankFiles) {
    const own = ck.savedWorldSize === place.worldSize ? (await loadCheckpoint({ dir, tag: ck.tag, rank: place.rank, worldSize: place.worldSize })).files : null;
    target.stage.loadRankFiles(own);
  }
  return { tag: ck.tag, step: ck.step, meta: ck.meta };
}
