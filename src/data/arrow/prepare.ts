/**
 * `ds data prepare`: corpus (.txt / .jsonl) → tokenizer → packed rows of seq_len+1 tokens
 * (each document followed by eos, documents run on across rows) → Arrow shards + manifest.
 * The split is by row of that stream (split.ts): the same on every run, and a validation set
 * for any corpus of at least 1/val_fraction rows, however many documents it has.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { InputError } from '../../errors.ts';
import { readCorpus, inspectCorpus } from '../corpus.ts';
import { ByteProgress } from '../progress.ts';
import { loadTokenizer, saveTokenizer } from '../tokenizer/io.ts';
import { BpeTrainer } from '../tokenizer/train.ts';
import type { Tokenizer } from '../tokenizer/types.ts';
import { MANIFEST_FORMAT, type DatasetManifest, type SplitManifest, type SplitName } from './manifest.ts';
import { ShardWriter } from './shards.ts';
import { RowSplitter } from './split.ts';

export interface PrepareOptions {
  input: string;
  /** "train:VOCAB" to train a byte-level BPE on the input, or a path to a tokenizer.json. */
  tokenizer: string;
  seqLen: number;
  out: string;
  valFraction?: number;
  seed?: number;
  /** Tokens per shard, at most (rounded down to whole rows; default 2^24). */
  shardTokens?: number;
  /** Show a progress bar: default when the input is over 8 MB. */
  progress?: boolean;
}

async function obtainTokenizer(opts: PrepareOptions, bytes: number, progress: boolean): Promise<Tokenizer> {
  const m = /^train:(\d+)$/.exec(opts.tokenizer);
  if (!m) {
    if (opts.tokenizer.startsWith('train:')) throw new InputError(`--tokenizer ${opts.tokenizer}: expected train:VOCAB_SIZE with an integer, e.g. train:8192`);
    return loadTokenizer(opts.tokenizer);
  }
  const trainer = new BpeTrainer({ vocabSize: Number(m[1]) });
  const bar = new ByteProgress('train tokenizer', bytes, progress);
  let last = 0;
  let docs = 0;
  for await (const doc of readCorpus(opts.input)) {
    trainer.feed(doc.text);
    bar.add(doc.bytesRead - last);
    last = doc.bytesRead;
    docs++;
  }
  bar.finish();
  if (docs === 0) throw new InputError(`input ${opts.input} is an empty corpus: no documents found`);
  return trainer.finish();
}

function checkOptions(o: PrepareOptions): { valFraction: number; seed: number; shardTokens: number } {
  const valFraction = o.valFraction ?? 0.01;
  const seed = o.seed ?? 0;
  const shardTokens = o.shardTokens ?? 2 ** 24;
  if (!Number.isInteger(o.seqLen) || o.seqLen < 1) throw new InputError(`--seq-len must be a positive integer, got ${o.seqLen}`);
  if (!(valFraction >= 0 && valFraction < 1)) throw new InputError(`--val-fraction must be in [0, 1), got ${valFraction}`);
  if (!Number.isInteger(seed)) throw new InputError(`--seed must be an integer, got ${seed}`);
  if (!Number.isInteger(shardTokens) || shardTokens < 1) throw new InputError(`--shard-tokens must be a positive integer, got ${shardTokens}`);
  return { valFraction, seed, shardTokens };
}

export async function prepareDataset(opts: PrepareOptions): Promise<DatasetManifest> {
  const { valFraction, seed, shardTokens } = checkOptions(opts);
  const { bytes } = inspectCorpus(opts.input);
  const progress = opts.progress ?? bytes > 8e6;
  const tok = await obtainTokenizer(opts, bytes, progress);
  const eos = tok.special.eos;
  if (eos === null) throw new InputError(`tokenizer ${opts.tokenizer} has no eos token to separate documents`);

  mkdirSync(opts.out, { recursive: true });
  saveTokenizer(tok, join(opts.out, 'tokenizer.json'));
  const width = opts.seqLen + 1;
  const rowsPerShard = Math.max(1, Math.floor(shardTokens / width));
  const writers: Record<SplitName, ShardWriter> = {
    train: new ShardWriter(opts.out, 'train', width, rowsPerShard),
    validation: new ShardWriter(opts.out, 'validation', width, rowsPerShard),
  };
  const splitter = new RowSplitter(width, seed, valFraction, (split, row) => writers[split].push(row));
  const bar = new ByteProgress('tokenize', bytes, progress);
  let last = 0;
  let documents = 0;
  for await (const doc of readCorpus(opts.input)) {
    const ids = tok.encode(doc.text);
    ids.push(eos);
    splitter.pushDocument(ids);
    documents++;
    bar.add(doc.bytesRead - last);
    last = doc.bytesRead;
  }
  bar.finish();
  if (documents === 0) throw new InputError(`input ${opts.input} is an empty corpus: no documents found`);

  const splits = {} as Record<SplitName, SplitManifest>;
  for (const name of ['train', 'validation'] as const) {
    const w = writers[name];
    w.finish(); // rows arrive whole: nothing is left over here
    const dropped = name === 'train' ? splitter.pending : 0;
    splits[name] = { rows: w.rows, tokens: w.rows * width, documents: splitter.documents[name], dropped_tokens: dropped, shards: w.shards };
  }
  if (splitter.totalRows === 0) {
    throw new InputError(`input ${opts.input} gives ${splitter.pending} tokens, fewer than one row of seq-len + 1 = ${width}; use a smaller --seq-len or more text`);
  }
  if (splits.train.rows === 0) {
    throw new InputError(`input ${opts.input} gives ${splitter.totalRows} row(s) of ${width} tokens, all held out for validation; use --val-fraction 0, a smaller --seq-len or more text`);
  }
  const manifest: DatasetManifest = {
    format: MANIFEST_FORMAT,
    seq_len: opts.seqLen,
    row_len: width,
    vocab_size: tok.vocabSize,
    eos_id: eos,
    tokenizer: 'tokenizer.json',
    source: resolve(opts.input),
    seed,
    val_fraction: valFraction,
    splits,
  };
  writeFileSync(join(opts.out, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return manifest;
}

/**
 * Why a prepared dataset has no validation rows, in words for the user; null when it has some.
 * Row r goes to validation about every 1/val_fraction rows (split.ts), so fewer rows than that
 * may give none.
 */
export function validationNote(m: DatasetManifest): string | null {
  if (m.splits.validation.rows > 0) return null;
  if (m.val_fraction === 0) return 'validation: none (--val-fraction 0)';
  const rows = m.splits.train.rows;
  const need = Math.ceil(1 / m.val_fraction);
  return (
    `validation: none. The corpus gives ${rows} rows of seq-len + 1 = ${m.row_len} tokens; holding out ` +
    `--val-fraction ${m.val_fraction} needs at least ${need} rows. Use a smaller --seq-len, a larger --val-fraction, or more text.`
  );
}
