/**
 * The train/validation split of `ds data prepare`: by row of the packed token stream.
 *
 *   stream:  doc0 eos doc1 eos doc2 …   (one corpus, however many documents it has)
 *   rows:    | r0 | r1 | r2 | … | r99 | r100 | …     each seq_len + 1 tokens, cut in order
 *   split:     T    T    T   …   V     T    …        about one row in 1/val_fraction is V
 *
 * Row r goes to validation when floor(phase + (r+1)·f) > floor(phase + r·f), with the phase in
 * [0, 1) hashed from the seed: the rows picked are spread evenly over the corpus, validation
 * holds floor(phase + R·f) of the first R rows, and any corpus of at least 1/f rows gets a
 * validation set — a single long document (a .txt with no blank lines) included. Every row of
 * either split is a contiguous piece of the stream, as without a split.
 */
import { hash32 } from '../rng.ts';
import type { SplitName } from './manifest.ts';

/** Whether row `row` (0-based, in stream order) of the packed stream belongs to validation. */
export function isValidationRow(row: number, seed: number, valFraction: number): boolean {
  if (valFraction <= 0) return false;
  const phase = hash32(seed) / 2 ** 32;
  return Math.floor(phase + (row + 1) * valFraction) > Math.floor(phase + row * valFraction);
}

/** Receives each whole row (a reused buffer of seq_len + 1 tokens; copy it to keep it). */
export type RowSink = (split: SplitName, row: Int32Array) => void;

/**
 * Cuts the packed stream of documents into rows and routes each row to its split. Counts, per
 * split, the documents with at least one token in its rows.
 */
export class RowSplitter {
  readonly documents: Record<SplitName, number> = { train: 0, validation: 0 };
  private readonly row: Int32Array;
  private used = 0;
  private rows = 0;
  private doc = -1; // index of the document being pushed
  private rowFirstDoc = 0; // document of the current row's first token
  private readonly lastCounted: Record<SplitName, number> = { train: -1, validation: -1 };

  constructor(
    rowLen: number,
    private readonly seed: number,
    private readonly valFraction: number,
    private readonly sink: RowSink,
  ) {
    this.row = new Int32Array(rowLen);
  }

  /** Append one document's tokens (eos included) to the stream. */
  pushDocument(ids: ArrayLike<number>): void {
    this.doc++;
    if (this.used === 0) this.rowFirstDoc = this.doc;
    for (let i = 0; i < ids.length; ) {
      const n = Math.min(ids.length - i, this.row.length - this.used);
      for (let k = 0; k < n; k++) this.row[this.used + k] = ids[i + k]!;
      this.used += n;
      i += n;
      if (this.used === this.row.length) {
        this.emit(this.doc);
        this.rowFirstDoc = this.doc; // the next row starts inside this document (or at the next one's start)
      }
    }
  }

  /** Rows cut so far. */
  get totalRows(): number {
    return this.rows;
  }

  /** Tokens at the end of the stream that did not fill a whole row (dropped). */
  get pending(): number {
    return this.used;
  }

  private emit(lastDoc: number): void {
    const split: SplitName = isValidationRow(this.rows++, this.seed, this.valFraction) ? 'validation' : 'train';
    const first = Math.max(this.rowFirstDoc, this.lastCounted[split] + 1);
    if (lastDoc >= first) this.documents[split] += lastDoc - first + 1;
    this.lastCounted[split] = Math.max(this.lastCounted[split], lastDoc);
    this.sink(split, this.row);
    this.used = 0;
  }
}
