import fs from 'node:fs';
import JSON5 from 'json5';
import type { z } from 'zod';
import { ConfigError } from '../../errors.ts';
import { configSchema, type RawConfig } from './schema.ts';
import { keysAt, nearest } from './suggest.ts';

/** The validated config: DeepSpeed's keys as the file had them, with batch sizes resolved. */
export type DsConfig = Readonly<
  Omit<RawConfig, 'train_batch_size' | 'train_micro_batch_size_per_gpu' | 'gradient_accumulation_steps'> & {
    train_batch_size: number;
    train_micro_batch_size_per_gpu: number;
    gradient_accumulation_steps: number;
    /** tfjs computes in float32; fp16/bf16 set what is sent (wire) and saved (storage). */
    precision: { compute: 'fp32'; wire: 'fp32' | 'fp16' | 'bf16'; storage: 'fp32' | 'fp16' | 'bf16' };
    /** Where the config came from, for messages. */
    source: string;
  }
>;

export interface LoadOptions {
  /** Data-parallel world size, for the batch-size rule. */
  dpWorldSize: number;
}

/** Reads, validates and freezes a config from a .json/.json5 path or a plain object. */
export function loadConfig(source: string | object, opts: LoadOptions): DsConfig {
  const [raw, where] = typeof source === 'string' ? [readJson5(source), source] : [source, '<object>'];
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw toConfigError(parsed.error.issues[0]!, where);
  const cfg = parsed.data;
  const batch = resolveBatch(cfg, opts.dpWorldSize, where);
  const half = cfg.bf16?.enabled ? 'bf16' : cfg.fp16?.enabled ? 'fp16' : 'fp32';
  if (cfg.fp16?.enabled && cfg.bf16?.enabled) throw new ConfigError('fp16.enabled', `${where}: fp16 and bf16 cannot both be enabled`);
  const out = {
    ...cfg,
    ...batch,
    precision: { compute: 'fp32' as const, wire: cfg.communication_data_type ?? half, storage: half },
    source: where,
  };
  return deepFreeze(out as DsConfig);
}

function readJson5(file: string): unknown {
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch (err) {
    throw new ConfigError('', `cannot read config file ${file}: ${(err as NodeJS.ErrnoException).code ?? String(err)}`);
  }
  try {
    return JSON5.parse(text);
  } catch (err) {
    const e = err as { lineNumber?: number; columnNumber?: number; message: string };
    throw new ConfigError('', `${file}:${e.lineNumber ?? '?'}:${e.columnNumber ?? '?'}: invalid JSON5: ${e.message.replace(/^JSON5: /, '')}`);
  }
}

function toConfigError(issue: z.core.$ZodIssue, where: string): ConfigError {
  const base = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const path = [...base, key].join('.');
    const guess = nearest(key, keysAt(configSchema, base));
    return new ConfigError(path, `unknown key in ${where}${guess ? `; did you mean '${guess}'?` : ''}`);
  }
  const path = base.join('.');
  const got = 'input' in issue ? ` (got ${JSON.stringify(issue.input)})` : '';
  return new ConfigError(path, `${issue.message}${got} in ${where}`);
}

/**
 * DeepSpeed's batch rule: train_batch_size = micro × gradient_accumulation_steps × dp size.
 * Any two give the third; one alone takes gas = 1; all three must agree.
 */
function resolveBatch(cfg: RawConfig, dp: number, where: string): { train_batch_size: number; train_micro_batch_size_per_gpu: number; gradient_accumulation_steps: number } {
  let tbs = cfg.train_batch_size;
  let micro = cfg.train_micro_batch_size_per_gpu;
  let gas = cfg.gradient_accumulation_steps;
  const show = () => `train_batch_size ${tbs} != train_micro_batch_size_per_gpu ${micro} × gradient_accumulation_steps ${gas} × data-parallel size ${dp} = ${micro! * gas! * dp}`;
  if (tbs !== undefined && micro !== undefined && gas !== undefined) {
    if (tbs !== micro * gas * dp) throw new ConfigError('train_batch_size', `${show()} (${where})`);
  } else if (tbs !== undefined && micro !== undefined) {
    gas = tbs / (micro * dp);
    if (!Number.isInteger(gas)) throw new ConfigError('train_batch_size', `train_batch_size ${tbs} is not divisible by train_micro_batch_size_per_gpu ${micro} × data-parallel size ${dp} (${where})`);
  } else if (tbs !== undefined && gas !== undefined) {
    micro = tbs / (gas * dp);
    if (!Number.isInteger(micro)) throw new ConfigError('train_batch_size', `train_batch_size ${tbs} is not divisible by gradient_accumulation_steps ${gas} × data-parallel size ${dp} (${where})`);
  } else if (micro !== undefined) {
    gas ??= 1;
    tbs = micro * gas * dp;
  } else if (tbs !== undefined) {
    gas = 1;
    micro = tbs / dp;
    if (!Number.isInteger(micro)) throw new ConfigError('train_batch_size', `train_batch_size ${tbs} is not divisible by data-parallel size ${dp} (${where})`);
  } else {
    throw new ConfigError('train_batch_size', `set train_batch_size or train_micro_batch_size_per_gpu (${where})`);
  }
  return { train_batch_size: tbs!, train_micro_batch_size_per_gpu: micro!, gradient_accumulation_steps: gas! };
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
