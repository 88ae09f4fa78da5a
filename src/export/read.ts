/**
 * A training checkpoint → the full model in host memory: the weights by HF name, the model
 * config from meta.json and the tokenizer saved beside it. consolidateCheckpoint gives the full
 * float32 parameters of any layout: pipeline stages, tensor-parallel slices and ZeRO shards put
 * back together (the fp32 master where weights were stored in half).
 */
import { existsSync, readFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { FormatError, InputError, NotImplementedError } from '../errors.ts';
import { consolidateCheckpoint, readLatest, type LayoutEntry as ConsolidatedLayoutEntry, type StorageDtype } from '../runtime/checkpoint/index.ts';
import { MANIFEST, META, type Manifest } from '../runtime/checkpoint/layout.ts';
import { validateModelConfig } from '../models/config.ts';
import type { ModelConfig } from '../models/types.ts';
import { checkLlamaWeights } from '../inference/loaders/check_weights.ts';
import type { HostTensor } from '../inference/loaders/types.ts';
import { loadTokenizer } from '../data/tokenizer/index.ts';
import type { Tokenizer } from '../data/tokenizer/types.ts';

export interface CheckpointModel {
  readonly config: ModelConfig;
  /** HF Llama names, HF shapes, in the checkpoint's layout order. Views into one buffer. */
  readonly weights: Map<string, HostTensor>;
  /** tokenizer.json of the tag folder, or null when the run saved none. */
  readonly tokenizer: Tokenizer | null;
  readonly tag: string;
  /** "dir/tag", for messages. */
  readonly source: string;
  /** How the weights were stored (float32, or half when the run trained with fp16/bf16). */
  readonly storedDtype: StorageDtype;
}

/** A parameter's place in the whole model's flat buffer. */
type LayoutEntry = ConsolidatedLayoutEntry;

/** `path` is the checkpoint directory (the one holding `latest`), or one tag's folder in it. */
export async function readFullWeights(path: string, tag?: string): Promise<CheckpointModel> {
  if (!existsSync(path)) throw new InputError(`readFullWeights: checkpoint directory ${path} does not exist`);
  const isTagDir = tag === undefined && existsSync(join(path, MANIFEST)) && !existsSync(join(path, 'latest'));
  const dir = isTagDir ? dirname(path) : path;
  if (isTagDir) tag = basename(path);
  const t = tag ?? (await readLatest(dir));
  const tagPath = join(dir, t);
  if (!existsSync(tagPath)) throw new InputError(`readFullWeights: ${dir} has no checkpoint tag "${t}"`);
  const manifestPath = join(tagPath, MANIFEST);
  if (!existsSync(manifestPath)) {
    throw new FormatError(manifestPath, `missing: the save of tag "${t}" did not finish (a checkpoint is complete once its manifest is written); nothing to export`);
  }
  const manifest = readManifest(manifestPath);
  const ck = await consolidateCheckpoint(dir, t);
  const source = `${dir}/${t}`;
  const metaPath = join(tagPath, META);

  // The whole model's parameters (any pipeline stages and tensor-parallel slices put together).
  const layout = parseLayout(ck.layout, metaPath);
  const total = layout.reduce((a, e) => a + numel(e.shape), 0);
  const params = ck.params;
  if (params.length !== total) {
    const how = ` (saved by ${ck.savedWorldSize} ranks: pipe ${ck.savedGrid.pipe} × data ${ck.savedGrid.data} × tensor ${ck.savedGrid.model}, ZeRO stage ${ck.savedStage})`;
    throw new FormatError(manifestPath, `the checkpoint's parameters are ${params.length} values${how}, its layout lists ${total}`);
  }

  const weights = new Map<string, HostTensor>();
  for (const e of layout) {
    if (e.offset < 0 || e.offset + numel(e.shape) > total) throw new FormatError(metaPath, `layout entry "${e.name}" [${e.offset}, +${numel(e.shape)}) lies outside the ${total} parameters`);
    weights.set(e.name, { shape: [...e.shape], data: params.subarray(e.offset, e.offset + numel(e.shape)) });
  }
  const config = parseModelConfig(ck.meta.model_config, metaPath);
  checkLlamaWeights(config, weights, source);
  const tokPath = join(tagPath, 'tokenizer.json');
  const tokenizer = existsSync(tokPath) ? loadTokenizer(tokPath) : null;
  return { config, weights, tokenizer, tag: t, source, storedDtype: manifest.ranks[0]?.['params']?.dtype ?? 'float32' };
}

function readManifest(path: string): Manifest {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as Manifest;
  } catch (e) {
    throw new FormatError(path, `is not valid JSON (${(e as Error).message})`);
  }
}

const numel = (shape: readonly number[]): number => shape.reduce((a, b) => a * b, 1);

function parseLayout(v: unknown, file: string): LayoutEntry[] {
  if (!Array.isArray(v) || v.length === 0) throw new FormatError(file, 'layout is missing or empty: it should list each parameter (name, shape, offset)');
  return v.map((e: unknown, i) => {
    const o = e as Partial<LayoutEntry> | null;
    const ok = o && typeof o.name === 'string' && Array.isArray(o.shape) && o.shape.every((d) => Number.isSafeInteger(d) && d > 0) && Number.isSafeInteger(o.offset);
    if (!ok) throw new FormatError(file, `layout[${i}] is ${JSON.stringify(e)}, expected {name, shape, offset}`);
    return o as LayoutEntry;
  });
}

/** Keys of ModelConfig that a checkpoint must record, with their JSON types. */
const CONFIG_KEYS: Record<string, 'number' | 'boolean' | 'string' | 'id'> = {
  vocabSize: 'number', hiddenSize: 'number', intermediateSize: 'number', numLayers: 'number', numHeads: 'number',
  numKvHeads: 'number', headDim: 'number', maxPositionEmbeddings: 'number', rmsNormEps: 'number', ropeTheta: 'number',
  ropeStyle: 'string', tieWordEmbeddings: 'boolean', initStd: 'number', bosTokenId: 'id', eosTokenId: 'id',
};

/** meta.json's model_config, checked field by field; the architecture extras are refused (no Llama export for them). */
function parseModelConfig(v: unknown, file: string): ModelConfig {
  if (v === undefined || v === null) {
    throw new FormatError(file, 'has no model_config: the checkpoint was saved before checkpoints carried the model config, so the export cannot tell its shape');
  }
  if (typeof v !== 'object' || Array.isArray(v)) throw new FormatError(file, `model_config is ${JSON.stringify(v)}, not an object`);
  const o = v as Record<string, unknown>;
  for (const [key, type] of Object.entries(CONFIG_KEYS)) {
    const x = o[key];
    const ok = type === 'id' ? x === null || (typeof x === 'number' && Number.isSafeInteger(x) && x >= 0) : typeof x === type;
    if (!ok) throw new FormatError(file, `model_config.${key} is ${JSON.stringify(x)}, expected ${type === 'id' ? 'a token id or null' : `a ${type}`}`);
  }
  // The architecture extras (attentionBias, qkNorm, ropeScaling) and any key this reader does not
  // know are refused when set, rather than dropped from the export.
  for (const [key, x] of Object.entries(o)) {
    if (!(key in CONFIG_KEYS) && x !== undefined && x !== null && x !== false) {
      throw new NotImplementedError(`exporting a model with model_config.${key} = ${JSON.stringify(x)} (plain Llama export only)`);
    }
  }
  const config = Object.freeze(Object.fromEntries(Object.keys(CONFIG_KEYS).map((k) => [k, o[k]]))) as unknown as ModelConfig;
  try {
    validateModelConfig(config, 'model_config');
  } catch (e) {
    throw new FormatError(file, (e as Error).message);
  }
  return config;
}
