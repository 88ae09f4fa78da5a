/**
 * Arrow IPC shards of token rows. Each shard is an Arrow IPC file with one column, "tokens",
 * of type FixedSizeList<Int32>[seqLen+1]: row r holds tokens [r*(T+1), (r+1)*(T+1)) of the
 * packed stream (documents separated by eos). Input is row[0..T-1], target row[1..T].
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DataType, Field, FixedSizeList, Int32, makeData, makeVector, Table, tableFromIPC, tableToIPC } from 'apache-arrow';
import { FormatError } from '../../errors.ts';

export const TOKENS_COLUMN = 'tokens';

export interface ShardInfo {
  readonly file: string;
  readonly rows: number;
}

/** Write `rows` rows of `width` int32 tokens (taken from the front of `values`) as an Arrow IPC file. */
export function writeShard(path: string, values: Int32Array, rows: number, width: number): void {
  const child = makeData({ type: new Int32(), length: rows * width, data: values.subarray(0, rows * width) });
  const type = new FixedSizeList(width, new Field('item', new Int32(), false));
  const data = makeData({ type, length: rows, nullCount: 0, child });
  writeFileSync(path, tableToIPC(new Table({ [TOKENS_COLUMN]: makeVector(data) }), 'file'));
}

/**
 * Read a shard into one flat Int32Array [rows * width] (zero-copy when the file has one record
 * batch). Checks the column type and width.
 */
export function readShard(path: string, width: number): { values: Int32Array; rows: number } {
  let table: Table;
  try {
    table = tableFromIPC(readFileSync(path));
  } catch (err) {
    throw new FormatError(path, `not an Arrow IPC file (${(err as Error).message})`);
  }
  const col = table.getChild(TOKENS_COLUMN);
  if (!col) throw new FormatError(path, `no "${TOKENS_COLUMN}" column (columns: ${table.schema.fields.map((f) => f.name).join(', ') || 'none'})`);
  const type = col.type;
  const item = DataType.isFixedSizeList(type) ? type.children[0]?.type : undefined;
  const int32 = item !== undefined && DataType.isInt(item) && item.bitWidth === 32 && item.isSigned;
  if (!DataType.isFixedSizeList(type) || !int32 || type.listSize !== width) {
    throw new FormatError(path, `column "${TOKENS_COLUMN}" is ${String(type)}, expected FixedSizeList[${width}]<Int32>`);
  }
  const parts: Int32Array[] = [];
  for (const d of col.data) {
    const child = d.children[0]!;
    const start = (child.offset + d.offset * width);
    parts.push((child.values as Int32Array).subarray(start, start + d.length * width));
  }
  const rows = table.numRows;
  if (parts.length === 1) return { values: parts[0]!, rows };
  const values = new Int32Array(rows * width);
  let at = 0;
  for (const p of parts) {
    values.set(p, at);
    at += p.length;
  }
  return { values, rows };
}

/** Buffers rows for one split and writes a shard each time `rowsPerShard` rows are full. */
export class ShardWriter {
  readonly shards: ShardInfo[] = [];
  private readonly buf: Int32Array;
  private used = 0; // tokens in buf
  private written = 0; // rows written so far

  constructor(
    private readonly dir: string,
    private readonly split: string,
    private readonly width: number,
    private readonly rowsPerShard: number,
  ) {
    this.buf = new Int32Array(rowsPerShard * width);
  }

  /** Append tokens to the packed stream. */
  push(ids: ArrayLike<number>): void {
    for (let i = 0; i < ids.length; ) {
      const n = Math.min(ids.length - i, this.buf.length - this.used);
      for (let k = 0; k < n; k++) this.buf[this.used + k] = ids[i + k]!;
      this.used += n;
      i += n;
      if (this.used === this.buf.length) this.flush(this.rowsPerShard);
    }
  }

  /** Write the last whole rows; returns the tokens dropped (a partial last row). */
  finish(): number {
    const rows = Math.floor(this.used / this.width);
    const dropped = this.used - rows * this.width;
    if (rows > 0) this.flush(rows);
    this.used = 0;
    return dropped;
  }

  get rows(): number {
    return this.written;
  }

  private flush(rows: number): void {
    const file = `${this.split}-${String(this.shards.length).padStart(5, '0')}.arrow`;
    writeShard(join(this.dir, file), this.buf, rows, this.width);
    this.shards.push({ file, rows });
    this.written += rows;
    this.used = 0;
  }
}
