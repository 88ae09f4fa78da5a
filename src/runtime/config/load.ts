import fs from 'node:fs';
import JSON5 from 'json5';
import type { z } from 'zod';
import { ConfigError } from '../../errors.ts';
import { resolveBatch, type BatchSizes } from './batch.ts';
import { checkConfig } from './checks.ts';
import { refuseUnhonoured } from './refusals.ts';
import { configSchema, type RawConfig } from './schema.ts';
import { keysAt, nearest } from './suggest.ts';

export type Dtype = 'fp32' | 'fp16' | 'bf16';

/**
 * tfjs has no float16 tensors, so compute is always float32. fp16/bf16 set `storage` (weights
 * in checkpoints and exports) and `wire` (gradients and parameters in collectives; overridden
 * by communication_data_type). fp16's loss-scale keys do nothing: float32 gradients do not
 * underflow the way DeepSpeed's float16 ones would.
 */
export interface Precision {
  readonly compute: 'fp32';
  readonly wire: Dtype;
  readonly storage: Dtype;
}

/** Readonly at every depth; tuples stay tuples (betas is `readonly [number, number]`). */
type DeepReadonly<T> = T extends object ? { readonly [K in keyof T]: DeepReadonly<T[K]> } : T;

/** The validated, deep-frozen config: DeepSpeed's keys with defaults filled, the batch sizes resolved, the precision derived. */
export type DsConfig = DeepReadonly<
  Omit<RawConfig, keyof BatchSizes> &
    BatchSizes & {
      precision: Precision;
      /** Where the config came from (a path or '<object>'), for messages. */
      source: string;
    }
>;

export interface LoadOptions {
  /**
   * Data-parallel world size, for the batch-size rule; or `worldSize`, the whole job, from which
   * the config's pipeline stages and tensor-parallel size are taken out first (DeepSpeed's rule:
   * train_batch_size = micro × accumulation × data-parallel size).
   */
  readonly dpWorldSize?: number;
  readonly worldSize?: number;
}

/** Reads, validates and freezes a config from a .json/.json5 path or a plain object. */
export function loadConfig(source: string | object, opts: LoadOptions): DsConfig {
  const [raw, where] = typeof source === 'string' ? [readJson5(source), source] : [source, '<object>'];
  const parsed = configSchema.safeParse(raw, { reportInput: true });
  if (!parsed.success) throw toConfigError(parsed.error.issues, where);
  const cfg = parsed.data;
  checkConfig(raw, cfg, where);
  refuseUnhonoured(cfg, where);
  // A DeepSpeed activation_checkpointing block turns checkpointing on (blocks.ts); `enabled` may say otherwise.
  const acGiven = typeof raw === 'object' && raw !== null && 'activation_checkpointing' in raw;
  cfg.activation_checkpointing.enabled ??= acGiven;
  const batch = resolveBatch(cfg, dataParallelSize(cfg, opts, where), where);
  const half: Dtype = cfg.bf16.enabled ? 'bf16' : cfg.fp16.enabled ? 'fp16' : 'fp32';
  const precision: Precision = { compute: 'fp32', wire: cfg.communication_data_type ?? half, storage: half };
  return deepFreeze({ ...cfg, ...batch, precision, source: where });
}

function dataParallelSize(cfg: RawConfig, opts: LoadOptions, where: string): number {
  if (opts.worldSize === undefined) {
    if (opts.dpWorldSize === undefined) throw new Error('loadConfig: pass dpWorldSize or worldSize');
    return opts.dpWorldSize;
  }
  const pp = cfg.pipeline.stages;
  const tp = cfg.tensor_parallel.autotp_size ?? cfg.tensor_parallel.tp_size ?? 1;
  if (opts.worldSize % (pp * tp) !== 0)
    throw new ConfigError('pipeline.stages', `world size ${opts.worldSize} is not divisible by tensor parallel ${tp} × pipeline stages ${pp} = ${pp * tp} (${where})`);
  return opts.worldSize / (pp * tp);
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

/** The first issue as a ConfigError naming its JSON path; a typo gets the nearest valid key or value. */
function toConfigError(issues: readonly z.core.$ZodIssue[], where: string): ConfigError {
  const issue = issues[0]!;
  const more = issues.length > 1 ? ` (and ${issues.length - 1} more problem${issues.length > 2 ? 's' : ''})` : '';
  const base = issue.path.map(String);
  if (issue.code === 'unrecognized_keys') {
    const key = issue.keys[0]!;
    const guess = nearest(key, keysAt(configSchema, base));
    return new ConfigError([...base, key].join('.'), `unknown key${guess ? `; did you mean '${guess}'?` : ''} in ${where}${more}`);
  }
  const path = base.join('.');
  const got = 'input' in issue ? describe(issue.input) : undefined;
  if (issue.code === 'invalid_type') {
    if (issue.input === 'auto') return new ConfigError(path, `expected ${issue.expected}, got "auto": the Hugging Face Trainer fills in "auto" values; deepscale needs the value itself (${where})${more}`);
    const expected = got === 'undefined' ? `required ${issue.expected}, missing` : `expected ${issue.expected}, got ${got}`;
    return new ConfigError(path, `${expected} in ${where}${more}`);
  }
  if (issue.code === 'invalid_value' && typeof issue.input === 'string') {
    const options = issue.values.map(String);
    const guess = nearest(issue.input, options);
    return new ConfigError(path, `expected one of ${options.map((o) => `'${o}'`).join(', ')}, got ${got}${guess ? `; did you mean '${guess}'?` : ''} in ${where}${more}`);
  }
  return new ConfigError(path, `${issue.message.replace(/^Invalid input: /, '')}, got ${got} in ${where}${more}`);
}

function describe(v: unknown): string {
  if (v === undefined) return 'undefined';
  const s = JSON.stringify(v);
  const kind = Array.isArray(v) ? 'array' : v === null ? 'null' : typeof v;
  return `${s.length > 60 ? `${s.slice(0, 57)}...` : s} (${kind})`;
}

function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object' && !Object.isFrozen(o)) {
    Object.freeze(o);
    for (const v of Object.values(o)) deepFreeze(v);
  }
  return o;
}
