/**
 * An HF-style model directory, as transformers' save_pretrained lays it out:
 *
 *   out/config.json                    LlamaForCausalLM, HF key names
 *   out/model.safetensors              or, past maxShardBytes, model-00001-of-0000N.safetensors …
 *   out/model.safetensors.index.json   (sharded only) { metadata: { total_size }, weight_map }
 *   out/tokenizer.json, tokenizer_config.json, generation_config.json
 *
 * Every file goes into a hidden sibling folder first; the folder is renamed to `out` only when
 * all are written, so `out` is never a half-written model.
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { saveTokenizer } from '../data/tokenizer/index.ts';
import type { Tokenizer } from '../data/tokenizer/types.ts';
import { modelConfigToHfConfig } from '../inference/loaders/hf_config.ts';
import { unpermuteQkFromGguf } from '../inference/loaders/gguf/permute.ts';
import { writeSafetensors, type SafetensorsDtype } from '../inference/loaders/safetensors/writer.ts';
import type { HostTensor } from '../inference/loaders/types.ts';
import type { ModelConfig } from '../models/types.ts';
import { commitDir, stagingDir } from './staging.ts';

export interface ModelDirInput {
  readonly config: ModelConfig;
  readonly weights: ReadonlyMap<string, HostTensor>;
  readonly tokenizer: Tokenizer;
}

export interface ModelDirOptions {
  readonly dtype: SafetensorsDtype;
  /** A new shard starts before a tensor that would take the current one past this (HF's max_shard_size). */
  readonly maxShardBytes: number;
  readonly overwrite: boolean;
}

const TORCH_DTYPE: Record<SafetensorsDtype, string> = { F32: 'float32', F16: 'float16', BF16: 'bfloat16' };
const BYTES: Record<SafetensorsDtype, number> = { F32: 4, F16: 2, BF16: 2 };

/** Writes the model dir; returns the file names in it. */
export function writeModelDir(out: string, m: ModelDirInput, opts: ModelDirOptions): string[] {
  const { config, weights } = toRotateHalf(m.config, m.weights);
  const tmp = stagingDir(out, opts.overwrite);
  return commitDir(tmp, out, () => {
    const files: string[] = [];
    const json = (name: string, obj: unknown): void => {
      writeFileSync(join(tmp, name), `${JSON.stringify(obj, null, 2)}\n`);
      files.push(name);
    };
    json('config.json', { ...modelConfigToHfConfig(config), torch_dtype: TORCH_DTYPE[opts.dtype] });
    const shards = planShards(weights, BYTES[opts.dtype], opts.maxShardBytes);
    const meta = { format: 'pt' }; // transformers refuses a safetensors file without it
    if (shards.length === 1) {
      writeSafetensors(join(tmp, 'model.safetensors'), weights, meta, opts.dtype);
      files.push('model.safetensors');
    } else {
      const weightMap: Record<string, string> = {};
      shards.forEach((names, i) => {
        const file = `model-${pad5(i + 1)}-of-${pad5(shards.length)}.safetensors`;
        writeSafetensors(join(tmp, file), new Map(names.map((n) => [n, weights.get(n)!])), meta, opts.dtype);
        for (const n of names) weightMap[n] = file;
        files.push(file);
      });
      const totalSize = [...weights.values()].reduce((a, t) => a + t.data.length * BYTES[opts.dtype], 0);
      json('model.safetensors.index.json', { metadata: { total_size: totalSize }, weight_map: weightMap });
    }
    saveTokenizer(m.tokenizer, join(tmp, 'tokenizer.json'), { writeConfig: true });
    files.push('tokenizer.json', 'tokenizer_config.json');
    const gen: Record<string, unknown> = { bos_token_id: config.bosTokenId, eos_token_id: config.eosTokenId };
    if (m.tokenizer.special.pad !== null) gen.pad_token_id = m.tokenizer.special.pad;
    json('generation_config.json', gen);
    return files;
  });
}

/** HF Llama rotates by halves: weights trained with adjacent-pair rope get their q/k rows reordered. */
function toRotateHalf(config: ModelConfig, weights: ReadonlyMap<string, HostTensor>): { config: ModelConfig; weights: ReadonlyMap<string, HostTensor> } {
  if (config.ropeStyle === 'half') return { config, weights };
  const out = new Map<string, HostTensor>();
  for (const [name, t] of weights) {
    if (name.endsWith('self_attn.q_proj.weight')) out.set(name, unpermuteQkFromGguf(t, config.numHeads));
    else if (name.endsWith('self_attn.k_proj.weight')) out.set(name, unpermuteQkFromGguf(t, config.numKvHeads));
    else out.set(name, t);
  }
  return { config: { ...config, ropeStyle: 'half' }, weights: out };
}

/** Tensor names per shard, in order; a tensor larger than the limit gets a shard of its own. */
function planShards(weights: ReadonlyMap<string, HostTensor>, bytesPer: number, maxShardBytes: number): string[][] {
  const shards: string[][] = [[]];
  let size = 0;
  for (const [name, t] of weights) {
    const bytes = t.data.length * bytesPer;
    if (size > 0 && size + bytes > maxShardBytes) {
      shards.push([]);
      size = 0;
    }
    shards.at(-1)!.push(name);
    size += bytes;
  }
  return shards;
}

const pad5 = (n: number): string => String(n).padStart(5, '0');
