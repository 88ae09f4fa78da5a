/**
 * `ds export`: a training checkpoint → an inference model (HF model dir or GGUF). The options
 * are checked first, then the checkpoint is read and verified, then the output is written
 * atomically: a bad option or a bad checkpoint writes nothing.
 */
import { existsSync } from 'node:fs';
import { basename, resolve } from 'node:path';
import { InputError, NotImplementedError } from '../errors.ts';
import type { GgufWriteType } from '../inference/loaders/gguf/writer.ts';
import type { SafetensorsDtype } from '../inference/loaders/safetensors/writer.ts';
import { writeGgufExport } from './gguf.ts';
import { writeModelDir } from './model_dir.ts';
import { readFullWeights } from './read.ts';

export const FORMATS = ['dir', 'gguf'] as const;
export const DTYPES = ['fp32', 'fp16', 'bf16'] as const;
export const QUANTS = ['q8_0', 'q4_0'] as const;
/** The training-side PTQ formats of `ds export --quantize` in DESIGN.md; not built yet. */
const PTQ = ['int8', 'int4'];

export type ExportFormat = (typeof FORMATS)[number];
export type ExportDtype = (typeof DTYPES)[number];
export type ExportQuant = (typeof QUANTS)[number];

/** What the CLI hands in: strings as typed, undefined where not given. */
export interface ExportArgs {
  readonly checkpoint: string;
  readonly tag?: string;
  readonly out: string;
  readonly format: string;
  readonly dtype?: string;
  readonly quantize?: string;
  /** HF's max_shard_size, in bytes (default 5 GB, as transformers). */
  readonly maxShardBytes?: number;
  readonly overwrite?: boolean;
}

export interface ExportPlan {
  readonly checkpoint: string;
  readonly tag: string | undefined;
  readonly out: string;
  readonly format: ExportFormat;
  /** The stored type of the 2-D weights. */
  readonly type: GgufWriteType;
  readonly maxShardBytes: number;
  readonly overwrite: boolean;
}

export interface ExportResult {
  readonly out: string;
  readonly format: ExportFormat;
  readonly type: GgufWriteType;
  readonly tag: string;
  readonly parameters: number;
  /** Files written (model dir) or [the .gguf]. */
  readonly files: readonly string[];
}

const DEFAULT_MAX_SHARD = 5_000_000_000;

function oneOf<T extends string>(flag: string, v: string, allowed: readonly T[]): T {
  if (!(allowed as readonly string[]).includes(v)) throw new InputError(`ds export: --${flag} ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  return v as T;
}

/** Validates the options alone (no file is touched). */
export function planExport(a: ExportArgs): ExportPlan {
  const format = oneOf('format', a.format, FORMATS);
  if (a.quantize !== undefined && PTQ.includes(a.quantize)) {
    throw new NotImplementedError(`ds export --quantize ${a.quantize} (deepscale's PTQ weights; for llama.cpp use --format gguf --quantize q8_0 or q4_0)`);
  }
  const quant = a.quantize === undefined ? null : oneOf('quantize', a.quantize, QUANTS);
  const dtype = a.dtype === undefined ? null : oneOf('dtype', a.dtype, DTYPES);
  if (quant && format === 'dir') throw new InputError(`ds export: --quantize ${quant} is a GGUF block type; a model dir (safetensors) holds fp32, fp16 or bf16: use --format gguf`);
  if (quant && dtype) throw new InputError(`ds export: --dtype ${dtype} and --quantize ${quant} both set the weights' type; give one (norms stay F32 in a quantized GGUF)`);
  const type: GgufWriteType = quant ? (quant === 'q8_0' ? 'Q8_0' : 'Q4_0') : ({ fp32: 'F32', fp16: 'F16', bf16: 'BF16' } as const)[dtype ?? 'fp32'];
  const maxShardBytes = a.maxShardBytes ?? DEFAULT_MAX_SHARD;
  if (!(maxShardBytes > 0)) throw new InputError(`ds export: --max-shard-size must be positive, got ${maxShardBytes}`);
  if (!a.out) throw new InputError('ds export: --out is required');
  return { checkpoint: a.checkpoint, tag: a.tag, out: resolve(a.out), format, type, maxShardBytes, overwrite: a.overwrite ?? false };
}

export async function exportCheckpoint(a: ExportArgs): Promise<ExportResult> {
  const plan = planExport(a);
  if (existsSync(plan.out) && !plan.overwrite) throw new InputError(`ds export: ${plan.out} already exists (pass --force to replace it)`);
  const ck = await readFullWeights(plan.checkpoint, plan.tag);
  const parameters = [...ck.weights.values()].reduce((n, t) => n + t.data.length, 0);
  const base = { out: plan.out, format: plan.format, type: plan.type, tag: ck.tag, parameters };
  if (plan.format === 'gguf') {
    writeGgufExport(plan.out, { ...ck, name: `${basename(resolve(ck.source, '..'))}/${ck.tag}` }, plan.type, plan.overwrite);
    return { ...base, files: [basename(plan.out)] };
  }
  if (ck.tokenizer === null) throw new InputError(`ds export: ${ck.source} has no tokenizer.json; a model dir needs one (ds serve and transformers load it from there)`);
  const files = writeModelDir(plan.out, { config: ck.config, weights: ck.weights, tokenizer: ck.tokenizer }, {
    dtype: plan.type as SafetensorsDtype, maxShardBytes: plan.maxShardBytes, overwrite: plan.overwrite,
  });
  return { ...base, files };
}
