import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { FormatError } from '../../errors.ts';
import { loadTokenizer } from '../../data/tokenizer/index.ts';
import { checkLlamaWeights } from './check_weights.ts';
import { splitFused } from './fused.ts';
import { hfConfigToModel } from './hf_config.ts';
import { readSafetensorsDir } from './safetensors/sharded.ts';
import type { LoadedModel } from './types.ts';

function readJson(path: string): unknown {
  try {
    return JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new FormatError(path, `cannot read JSON: ${(e as Error).message}`);
  }
}

/** An HF-style model dir: config.json, model.safetensors (or sharded with an index), tokenizer.json. */
export function loadModelDir(dir: string): LoadedModel {
  const cfgPath = join(dir, 'config.json');
  const { config, arch } = hfConfigToModel(readJson(cfgPath), cfgPath);
  const weights = readSafetensorsDir(dir);
  if (arch.fused) splitFused(weights, config, arch.fused.hf, dir);
  // Some tied checkpoints still carry lm_head.weight; it is the embedding, so drop it.
  if (config.tieWordEmbeddings) weights.delete('lm_head.weight');
  checkLlamaWeights(config, weights, dir);
  const tokPath = join(dir, 'tokenizer.json');
  if (!existsSync(tokPath)) throw new FormatError(dir, 'tokenizer.json is missing');
  // loadTokenizer also reads tokenizer_config.json beside it (chat template, special tokens).
  return { config, weights, tokenizer: loadTokenizer(tokPath), source: `dir:${dir}` };
}
