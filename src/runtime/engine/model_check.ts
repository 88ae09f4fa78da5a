import { ConfigError } from '../../errors.ts';
import type { ModelConfig } from '../../models/types.ts';

/**
 * The shape-defining fields of a ModelConfig, with the config-file name each mirrors (HF's), so a
 * mismatch reads the way the user wrote the config. initStd only matters before step 0, so a
 * resumed run may change it.
 */
const FIELDS: readonly (readonly [keyof ModelConfig, string])[] = [
  ['vocabSize', 'vocab_size'],
  ['hiddenSize', 'hidden_size'],
  ['intermediateSize', 'intermediate_size'],
  ['numLayers', 'num_hidden_layers'],
  ['numHeads', 'num_attention_heads'],
  ['numKvHeads', 'num_key_value_heads'],
  ['headDim', 'head_dim'],
  ['maxPositionEmbeddings', 'max_position_embeddings'],
  ['rmsNormEps', 'rms_norm_eps'],
  ['ropeTheta', 'rope_theta'],
  ['ropeStyle', 'rope_style'],
  ['tieWordEmbeddings', 'tie_word_embeddings'],
  ['bosTokenId', 'bos_token_id'],
  ['eosTokenId', 'eos_token_id'],
];

/** "name: saved → current" for every field that differs (empty when the configs agree). */
export function modelConfigDiff(saved: Partial<ModelConfig>, current: ModelConfig): string[] {
  const out: string[] = [];
  for (const [key, name] of FIELDS) {
    const a = saved[key];
    if (a === undefined) continue; // a field this checkpoint's version did not record
    if (a !== current[key]) out.push(`${name} ${JSON.stringify(a)} in the checkpoint, ${JSON.stringify(current[key])} in this model`);
  }
  return out;
}

/** Refuses to load weights saved from a different model (same parameter count or not). */
export function checkModelConfig(saved: unknown, current: ModelConfig, where: string): void {
  if (saved === undefined || saved === null) return; // checkpoints written before model_config was saved
  if (typeof saved !== 'object') throw new ConfigError('model', `${where}: meta.json model_config is ${JSON.stringify(saved)}, not an object`);
  const diff = modelConfigDiff(saved as Partial<ModelConfig>, current);
  if (diff.length) throw new ConfigError('model', `${where} was saved from a different model: ${diff.join('; ')}`);
}
