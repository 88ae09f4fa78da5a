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
  const genPath = join(dir, 'generation_config.json');
  const eosTokenIds = [...eosIdsOf(readJson(cfgPath), cfgPath, config.vocabSize), ...(existsSync(genPath) ? eosIdsOf(readJson(genPath), genPath, config.vocabSize) : [])];
  return { config, weights, tokenizer: loadTokenizer(tokPath), source: `dir:${dir}`, eosTokenIds: [...new Set(eosTokenIds)] };
}

/** eos_token_id of an HF config (a number or a list of them; absent or null: none), each checked against the vocabulary. */
function eosIdsOf(json: unknown, file: string, vocabSize: number): number[] {
  const v = typeof json === 'object' && json !== null ? (json as Record<string, unknown>)['eos_token_id'] : undefined;
  if (v === undefined || v === null) return [];
  const ids = Array.isArray(v) ? v : [v];
  ids.forEach((id, i) => {
    if (typeof id !== 'number' || !Number.isSafeInteger(id) || id < 0 || id >= vocabSize) {
      throw new FormatError(file, `eos_token_id${Array.isArray(v) ? `[${i}]` : ''} is ${JSON.stringify(id)}, expected a token id below the vocabulary size ${vocabSize}`);
    }
  });
  return ids as number[];
}
