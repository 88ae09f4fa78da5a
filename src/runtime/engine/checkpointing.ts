import { loadCheckpoint, saveCheckpoint, type HalfDtype } from '../checkpoint/index.ts';
import { ConfigError } from '../../errors.ts';
import type { FlatParams } from './flat_params.ts';
import type { FlatOptimizer } from '../optim/types.ts';
import type { ModelConfig } from '../../models/types.ts';
import { checkModelConfig } from './model_check.ts';

/** Where this rank stands in the job, for checkpoint files and the save barrier. */
export interface CheckpointPlace {
  readonly rank: number;
  readonly worldSize: number;
  readonly barrier?: () => Promise<void>;
  /** Storage precision of the saved weights (fp16/bf16 config blocks); optimizer state stays float32. */
  readonly weightDtype: HalfDtype;
}

/**
 * Saves parameters, optimizer state and the step (DeepSpeed's layout: dir/latest, dir/<tag>/
 * manifest + per-rank files), atomically. With plain data parallelism every rank holds the same
 * state; each still writes its own files, as ZeRO ranks will write their shards.
 */
export async function saveEngineState(
  dir: string,
  tag: string,
  place: CheckpointPlace,
  state: {
    flat: FlatParams;
    optimizer: FlatOptimizer;
    step: number;
    meta: Record<string, unknown>;
    /** Saved as meta.model_config, checked on load. */
    model: ModelConfig;
    /** Text files for the tag folder (tokenizer.json, tokenizer_config.json). */
    textFiles?: Record<string, string>;
  },
): Promise<void> {
  const opt = state.optimizer.state();
  const params = state.flat.data.subarray(0, state.flat.numel);
  const files: Record<string, Float32Array> = { params };
  for (const [k, v] of Object.entries(opt.buffers)) files[`optim.${k}`] = v;
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
      layout: state.flat.segments.map((s) => ({ name: s.name, shape: s.shape, offset: s.offset })),
    },
  });
}

/** Restores what saveEngineState wrote; returns the step and the saved meta. */
export async function loadEngineState(
  dir: string,
  tag: string | undefined,
  place: CheckpointPlace,
  target: { flat: FlatParams; optimizer: FlatOptimizer; model: ModelConfig },
): Promise<{ tag: string; step: number; meta: Record<string, unknown> }> {
  const ck = await loadCheckpoint({ dir, tag, rank: place.rank, worldSize: place.worldSize });
  checkModelConfig(ck.meta.model_config, target.model, `checkpoint ${dir}/${ck.tag}`);
  const params = (ck.files['optim.fp32_master'] ?? ck.files.params) as Float32Array | undefined;
  if (!params || params.length !== target.flat.numel)
    throw new ConfigError('model', `checkpoint ${dir}/${ck.tag} holds ${params?.length ?? 0} parameters, the model has ${target.flat.numel}: a different model config`);
  target.flat.data.set(params);
  const buffers: Record<string, Float32Array> = {};
  for (const [k, v] of Object.entries(ck.files)) if (k.startsWith('optim.') && k !== 'optim.fp32_master') buffers[k.slice('optim.'.length)] = v as Float32Array;
  target.optimizer.loadState({ buffers, step: Number(ck.meta.optimizer_step ?? 0) });
  return { tag: ck.tag, step: Number(ck.meta.step ?? 0), meta: ck.meta };
}
