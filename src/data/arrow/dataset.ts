/** Random access to the rows of a prepared dataset split (see manifest.ts for the layout). */
import { join } from 'node:path';
import { FormatError, InputError } from '../../errors.ts';
import { readManifest, SPLITS, type DatasetManifest, type SplitName } from './manifest.ts';
import { readShard } from './shards.ts';

export interface ArrowDataset {
  readonly manifest: DatasetManifest;
  /** The dataset directory it was opened from. */
  readonly dir: string;
  readonly split: SplitName;
  /** Rows in the split. */
  readonly length: number;
  readonly seqLen: number;
  readonly vocabSize: number;
  readonly tokenizerPath: string;
  /** Row i: seqLen + 1 tokens (a view into the shard; do not modify). */
  row(i: number): Int32Array;
}

/** Open `dir` (written by `ds data prepare`) at `split` ("train" or "validation"; "val" also works). */
export function openArrowDataset(dir: string, split: string = 'train'): ArrowDataset {
  const name = (split === 'val' ? 'validation' : split) as SplitName;
  if (!SPLITS.includes(name)) throw new InputError(`openArrowDataset: split must be one of ${SPLITS.join(', ')}, got "${split}"`);
  const manifestPath = join(dir, 'manifest.json');
  const manifest = readManifest(manifestPath);
  const width = manifest.row_len;
  const shards: Int32Array[] = [];
  const starts: number[] = []; // first row of each shard
  let rows = 0;
  for (const sh of manifest.splits[name].shards) {
    const path = join(dir, sh.file);
    const got = readShard(path, width);
    if (got.rows !== sh.rows) throw new FormatError(path, `has ${got.rows} rows, ${manifestPath} says ${sh.rows}`);
    starts.push(rows);
    shards.push(got.values);
    rows += got.rows;
  }
  if (rows !== manifest.splits[name].rows) throw new FormatError(manifestPath, `splits.${name}.rows is ${manifest.splits[name].rows}, but its shards hold ${rows}`);
  return {
    manifest,
    dir,
    split: name,
    length: rows,
    seqLen: manifest.seq_len,
    vocabSize: manifest.vocab_size,
    tokenizerPath: join(dir, manifest.tokenizer),
    row(i: number): Int32Array {
      if (!Number.isInteger(i) || i < 0 || i >= rows) throw new RangeError(`row ${i} is outside the ${name} split of ${dir} (${rows} rows)`);
      let lo = 0;
      let hi = starts.length - 1;
      while (lo < hi) {
        const mid = (lo + hi + 1) >> 1;
        if (starts[mid]! <= i) lo = mid;
        else hi = mid - 1;
      }
      const r = i - starts[lo]!;
      return shards[lo]!.subarray(r * width, (r + 1) * width);
    },
  };
}
