import { FormatError } from '../../../errors.ts';

/**
 * A bounds-checked little-endian reader over a file's bytes. Every read that would pass the end
 * throws a FormatError naming the file, the offset and what was being read, so a truncated or
 * corrupt file never reads garbage or allocates by a corrupt length.
 */
export class Cursor {
  pos = 0;
  private readonly dv: DataView;
  private static readonly utf8 = new TextDecoder('utf-8', { fatal: true });

  constructor(readonly bytes: Uint8Array, readonly file: string) {
    this.dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get remaining(): number {
    return this.bytes.length - this.pos;
  }

  fail(what: string, at = this.pos): never {
    throw new FormatError(this.file, `${what} (offset ${at})`);
  }

  need(n: number, what: string): void {
    if (n > this.remaining) this.fail(`${what}: needs ${n} bytes, ${this.remaining} left in the ${this.bytes.length}-byte file`);
  }

  u8(what: string): number { this.need(1, what); return this.dv.getUint8(this.pos++); }
  i8(what: string): number { this.need(1, what); return this.dv.getInt8(this.pos++); }
  u16(what: string): number { this.need(2, what); const v = this.dv.getUint16(this.pos, true); this.pos += 2; return v; }
  i16(what: string): number { this.need(2, what); const v = this.dv.getInt16(this.pos, true); this.pos += 2; return v; }
  u32(what: string): number { this.need(4, what); const v = this.dv.getUint32(this.pos, true); this.pos += 4; return v; }
  i32(what: string): number { this.need(4, what); const v = this.dv.getInt32(this.pos, true); this.pos += 4; return v; }
  f32(what: string): number { this.need(4, what); const v = this.dv.getFloat32(this.pos, true); this.pos += 4; return v; }
  f64(what: string): number { this.need(8, what); const v = this.dv.getFloat64(this.pos, true); this.pos += 8; return v; }
  i64(what: string): number { this.need(8, what); const v = Number(this.dv.getBigInt64(this.pos, true)); this.pos += 8; return v; }
  /** u64 as a number; values past 2^53 only come from corrupt files and fail the callers' caps. */
  u64(what: string): number { this.need(8, what); const v = Number(this.dv.getBigUint64(this.pos, true)); this.pos += 8; return v; }

  /** A GGUF string: u64 byte length, then UTF-8 bytes (no terminator). */
  str(what: string): string {
    const at = this.pos;
    const n = this.u64(`${what} length`);
    if (n > this.remaining) this.fail(`${what}: string length ${n} exceeds the ${this.remaining} bytes left`, at);
    const s = this.bytes.subarray(this.pos, this.pos + n);
    this.pos += n;
    try {
      return Cursor.utf8.decode(s);
    } catch {
      return this.fail(`${what}: string is not valid UTF-8`, at);
    }
  }
}
