/**
 * manifest.json of a prepared dataset directory:
 *
 *   data/
 *     manifest.json        { format, seq_len, row_len, vocab_size, eos_id, tokenizer, splits: {...} }
 *     tokenizer.json
 *     train-00000.arrow    FixedSizeList<Int32>[seq_len+1] rows
 *     validation-00000.arrow
 */
import { readFileSync } from 'node:fs';
import { FormatError, InputError } from '../../errors.ts';
import type { ShardInfo } from './shards.ts';

export const MANIFEST_FORMAT = 'deepscale-arrow-tokens-v1';
export const SPLITS = ['train', 'validation'] as const;
export type SplitName = (typeof SPLITS)[number];

export interface SplitManifest {
  readonly rows: number;
  /** Tokens stored: rows * (seq_len + 1). */
  readonly tokens: number;
  readonly documents: number;
  /** Tokens at the end that did not fill a whole row. */
  readonly dropped_tokens: number;
  readonly shards: readonly ShardInfo[];
}

export interface DatasetManifest {
  readonly format: typeof MANIFEST_FORMAT;
  readonly seq_len: number;
  /** seq_len + 1: a row holds the inputs and, shifted by one, the targets. */
  readonly row_len: number;
  readonly vocab_size: number;
  readonly eos_id: number;
  /** Relative to the dataset directory. */
  readonly tokenizer: string;
  readonly source: string;
  readonly seed: number;
  readonly val_fraction: number;
  readonly splits: Readonly<Record<SplitName, SplitManifest>>;
}

const int = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** Read and check manifest.json; errors name the file and the JSON path. */
export function readManifest(path: string): DatasetManifest {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    throw new InputError(`no dataset manifest at ${path} (run \`ds data prepare\` first)`);
  }
  let m: Record<string, unknown>;
  try {
    m = JSON.parse(text) as Record<string, unknown>;
  } catch (err) {
    throw new FormatError(path, `not valid JSON: ${(err as Error).message}`);
  }
  if (m?.format !== MANIFEST_FORMAT) throw new FormatError(path, `format: expected "${MANIFEST_FORMAT}", got ${JSON.stringify(m?.format)}`);
  for (const k of ['seq_len', 'row_len', 'vocab_size', 'eos_id'] as const) {
    if (!int(m[k])) throw new FormatError(path, `${k}: expected a non-negative integer, got ${JSON.stringify(m[k])}`);
  }
  if (m.row_len !== (m.seq_len as number) + 1) throw new FormatError(path, `row_len: expected seq_len + 1 = ${(m.seq_len as number) + 1}, got ${m.row_len}`);
  if (typeof m.tokenizer !== 'string') throw new FormatError(path, `tokenizer: expected a path string`);
  const splits = m.splits as Record<string, Record<string, unknown>> | undefined;
  for (const s of SPLITS) {
    const sp = splits?.[s];
    if (typeof sp !== 'object' || sp === null) throw new FormatError(path, `splits.${s}: missing`);
    if (!int(sp.rows)) throw new FormatError(path, `splits.${s}.rows: expected a non-negative integer`);
    if (!Array.isArray(sp.shards)) throw new FormatError(path, `splits.${s}.shards: expected an array`);
    sp.shards.forEach((sh: unknown, i: number) => {
      const o = sh as Record<string, unknown> | null;
      if (typeof o?.file !== 'string' || !int(o.rows)) throw new FormatError(path, `splits.${s}.shards[${i}]: expected { file: string, rows: integer }`);
    });
  }
  return m as unknown as DatasetManifest;
}
