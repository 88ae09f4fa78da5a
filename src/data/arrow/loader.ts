/**
 * The training data loader over a prepared dataset (DeepSpeed's `training_data=` loader).
 *
 * Train order: each epoch, DistributedSampler permutes the split's rows (seed + epoch) and
 * rank r takes every worldSize-th of them (PyTorch's padding by wrap-around when the rows do
 * not divide evenly); the rank's list is cut into micro-batches of B rows and a last partial
 * micro-batch is dropped, so every rank runs the same number of steps:
 *
 *   epoch e permutation:  p0 p1 p2 p3 p4 p5 p6 p7 p8 p9      (W = 2, B = 2)
 *   rank 0:               p0 p2 | p4 p6 | (p8 dropped)       stepsPerEpoch = floor(ceil(10/2)/2) = 2
 *   rank 1:               p1 p3 | p5 p7 | (p9 dropped)
 *
 * Step s of W ranks × B rows thus trains on permutation positions [s·W·B, (s+1)·W·B): the rows
 * one rank × W·B rows trains on at step s, so the global batch does not depend on W.
 *
 * A micro-batch is the engine's MicroBatch: row b of the split holds seq_len + 1 tokens s, and
 *   input[b·T + t] = s[t], target[b·T + t] = s[t + 1], mask = 1     (all [B·T], T = seq_len)
 * (documents run on across rows with eos between them, so every target is a real next token).
 *
 * The position (epoch, micro-batches taken in it, seed) is plain data: `state()` goes into a
 * checkpoint's client state and `restore()` continues with exactly the micro-batch that followed.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { InputError } from '../../errors.ts';
import { DistributedSampler } from '../sampler.ts';
import { openArrowDataset, type ArrowDataset } from './dataset.ts';
import { validationNote } from './prepare.ts';
import type { SplitName } from './manifest.ts';

/** B sequences of T tokens, next-token targets and a loss mask, all [B·T]: the engine's MicroBatch. */
export interface TokenBatch {
  readonly batchSize: number;
  readonly seqLen: number;
  readonly input: Int32Array;
  readonly target: Int32Array;
  readonly mask: Float32Array;
}

export interface TrainingDataOptions {
  readonly rank: number;
  readonly worldSize: number;
  /** B: rows per micro-batch on this rank. */
  readonly microBatchSize: number;
  readonly seed: number;
  /** Default 'train'. */
  readonly split?: SplitName;
  /** Shuffle each epoch; default true for train, false for validation. */
  readonly shuffle?: boolean;
  /** The sequence length the model is built for; must equal the manifest's seq_len when given. */
  readonly seqLen?: number;
}

/** Where a loader stands; JSON-serializable, for a checkpoint's client state. */
export interface TrainingDataState {
  readonly epoch: number;
  /** Micro-batches already taken in `epoch` (0 ≤ position < stepsPerEpoch). */
  readonly position: number;
  readonly seed: number;
  /** What the position is counted in; restore() refuses a state from another layout. */
  readonly worldSize: number;
  readonly microBatchSize: number;
  readonly rows: number;
}

export class TrainingData {
  readonly dataset: ArrowDataset;
  readonly split: SplitName;
  readonly seqLen: number;
  readonly microBatchSize: number;
  readonly rank: number;
  readonly worldSize: number;
  /** Micro-batches per epoch on each rank. */
  readonly stepsPerEpoch: number;
  private sampler: DistributedSampler;
  private order: Int32Array | null = null; // this rank's rows for `currentEpoch`
  private currentEpoch = 0;
  private position = 0;

  constructor(dataset: ArrowDataset, opts: TrainingDataOptions) {
    const B = opts.microBatchSize;
    if (!Number.isInteger(B) || B < 1) throw new InputError(`openTrainingData: microBatchSize must be a positive integer, got ${B}`);
    if (!Number.isInteger(opts.seed)) throw new InputError(`openTrainingData: seed must be an integer, got ${opts.seed}`);
    this.dataset = dataset;
    this.split = dataset.split;
    this.seqLen = dataset.seqLen;
    this.microBatchSize = B;
    this.rank = opts.rank;
    this.worldSize = opts.worldSize;
    this.sampler = this.makeSampler(opts.seed, opts.shuffle ?? dataset.split === 'train');
    this.stepsPerEpoch = Math.floor(this.sampler.numSamples / B);
  }

  /** Epochs completed so far (the epoch the next micro-batch comes from). */
  get epoch(): number {
    return this.currentEpoch;
  }

  get seed(): number {
    return this.sampler.seed;
  }

  /** The next micro-batch of this rank; moves to the next epoch (a new permutation) at the end of one. */
  next(): TokenBatch {
    if (this.stepsPerEpoch === 0) {
      throw new InputError(`${this.dataset.dir}: the ${this.split} split has ${this.dataset.length} rows, fewer than one micro-batch per rank (${this.worldSize} × ${this.microBatchSize})`);
    }
    if (this.order === null) {
      this.sampler.setEpoch(this.currentEpoch);
      this.order = this.sampler.indices();
    }
    const B = this.microBatchSize;
    const rows = this.order.subarray(this.position * B, (this.position + 1) * B);
    const batch = this.batchOf(rows, rows.length);
    if (++this.position === this.stepsPerEpoch) {
      this.currentEpoch++;
      this.position = 0;
      this.order = null;
    }
    return batch;
  }

  state(): TrainingDataState {
    const { currentEpoch: epoch, position, seed, worldSize, microBatchSize } = this;
    return { epoch, position, seed, worldSize, microBatchSize, rows: this.dataset.length };
  }

  /** Continue from `s` (from state(), possibly of a run started with another seed: its seed is used). */
  restore(s: TrainingDataState): void {
    if (typeof s !== 'object' || s === null) throw new InputError(`cannot resume the ${this.split} data of ${this.dataset.dir}: the saved data position is not an object (got ${JSON.stringify(s)})`);
    const where = `cannot resume the ${this.split} data of ${this.dataset.dir}`;
    if (s.rows !== this.dataset.length) throw new InputError(`${where}: the saved position is for ${s.rows} rows, this dataset has ${this.dataset.length}`);
    if (!Number.isInteger(s.epoch) || s.epoch < 0 || !Number.isInteger(s.position) || s.position < 0) throw new InputError(`${where}: epoch ${s.epoch}, position ${s.position} is not a position`);
    // Step k on W ranks × B rows covers rows [k·W·B, (k+1)·W·B) of the epoch's permutation whatever W
    // and B are (the diagram at the top of this file), so a run saved at another world size or micro-batch resumes
    // at the same row when the rows consumed fill whole steps of this layout.
    let position = s.position;
    if (s.worldSize !== this.worldSize || s.microBatchSize !== this.microBatchSize) {
      const consumed = s.position * s.worldSize * s.microBatchSize;
      const perStep = this.worldSize * this.microBatchSize;
      if (consumed % perStep !== 0) {
        throw new InputError(`${where}: ${consumed} rows of epoch ${s.epoch} were read (${s.position} steps of ${s.worldSize} ranks × ${s.microBatchSize}), not a whole number of this run's steps of ${this.worldSize} × ${this.microBatchSize} rows`);
      }
      position = consumed / perStep;
    }
    if (position >= this.stepsPerEpoch) throw new InputError(`${where}: epoch ${s.epoch}, position ${position} is outside [0, ${this.stepsPerEpoch}) micro-batches per epoch`);
    if (s.seed !== this.seed) this.sampler = this.makeSampler(s.seed, this.sampler.shuffle);
    this.currentEpoch = s.epoch;
    this.position = position;
    this.order = null;
  }

  /** Micro-batches evalBatches() yields on every rank. */
  get evalSteps(): number {
    return Math.ceil(Math.ceil(this.dataset.length / this.worldSize) / this.microBatchSize);
  }

  /**
   * Every row of the split exactly once over all ranks, in order, for evaluation: rank r takes
   * rows r, r + W, r + 2W, …; slots past the end (so that every rank runs evalSteps micro-batches,
   * which collectives inside a forward pass need) hold row 0 with mask 0.
   */
  *evalBatches(maxBatches = Infinity): Generator<TokenBatch> {
    const B = this.microBatchSize;
    const steps = Math.min(this.evalSteps, maxBatches);
    for (let s = 0; s < steps; s++) {
      const rows = new Int32Array(B);
      let real = 0;
      for (let b = 0; b < B; b++) {
        const i = this.rank + (s * B + b) * this.worldSize;
        if (i < this.dataset.length) rows[real++] = i;
      }
      yield this.batchOf(rows, real);
    }
  }

  /** Rows `rows` as a micro-batch of rows.length sequences; the mask is 0 from row `real` on. */
  private batchOf(rows: Int32Array, real: number): TokenBatch {
    const T = this.seqLen;
    const B = rows.length;
    const input = new Int32Array(B * T);
    const target = new Int32Array(B * T);
    const mask = new Float32Array(B * T);
    for (let b = 0; b < B; b++) {
      const row = this.dataset.row(rows[b]!); // [T + 1]
      input.set(row.subarray(0, T), b * T);
      target.set(row.subarray(1, T + 1), b * T);
      if (b < real) mask.fill(1, b * T, (b + 1) * T);
    }
    return { batchSize: B, seqLen: T, input, target, mask };
  }

  private makeSampler(seed: number, shuffle: boolean): DistributedSampler {
    return new DistributedSampler({ length: this.dataset.length, rank: this.rank, worldSize: this.worldSize, seed, shuffle });
  }
}

/**
 * Open the `split` of a dataset directory written by `ds data prepare` for this rank. Errors name
 * the directory or file: not a directory, no manifest, a seq_len other than the model's, a split
 * too small for one micro-batch per rank.
 */
export function openTrainingData(dir: string, opts: TrainingDataOptions): TrainingData {
  let isDir = false;
  try {
    isDir = statSync(dir).isDirectory();
  } catch {
    throw new InputError(`dataset directory ${dir} does not exist (write one with \`ds data prepare --out ${dir}\`)`);
  }
  if (!isDir) throw new InputError(`dataset path ${dir} is not a directory (expected the --out directory of \`ds data prepare\`)`);
  const split = opts.split ?? 'train';
  const ds = openArrowDataset(dir, split);
  const manifestPath = join(dir, 'manifest.json');
  if (opts.seqLen !== undefined && opts.seqLen !== ds.seqLen) {
    throw new InputError(`${manifestPath}: seq_len is ${ds.seqLen}, but the model trains on ${opts.seqLen}; prepare the data again with --seq-len ${opts.seqLen}, or train on ${ds.seqLen}`);
  }
  if (ds.length === 0) throw new InputError(`${manifestPath}: the ${split} split has no rows. ${validationNote(ds.manifest) ?? ''}`.trim());
  const loader = new TrainingData(ds, opts);
  if (split === 'train' && loader.stepsPerEpoch === 0) {
    throw new InputError(
      `${manifestPath}: the train split has ${ds.length} rows, fewer than one micro-batch per rank (${opts.worldSize} rank(s) × ${opts.microBatchSize} rows); use a smaller micro-batch or more text`,
    );
  }
  return loader;
}
