/**
 * A file opened for appending, one line per write. Each line goes to the kernel with one
 * writeSync (no user-space buffer), so a run killed with -9 keeps every line it logged.
 */
import { closeSync, mkdirSync, openSync, readSync, fstatSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';

export class LineFile {
  readonly path: string;
  private fd: number | null;
  /** Bytes that were in the file when it was opened: 0 means a fresh file. */
  readonly initialSize: number;

  constructor(path: string) {
    this.path = path;
    mkdirSync(dirname(path), { recursive: true });
    this.fd = openSync(path, 'a+');
    this.initialSize = fstatSync(this.fd).size;
  }

  /** A run killed mid-line leaves no newline at the end: start the next line on a fresh one. */
  endPartialLine(): void {
    if (this.initialSize > 0 && this.readAt(this.initialSize - 1, 1) !== '\n') this.writeRaw('\n');
  }

  /** The first line of the file as it was opened ('' for a fresh file). */
  firstLine(): string {
    const head = this.readAt(0, Math.min(this.initialSize, 64 * 1024));
    const nl = head.indexOf('\n');
    return nl < 0 ? head : head.slice(0, nl);
  }

  writeLine(line: string): void {
    this.writeRaw(`${line}\n`);
  }

  close(): void {
    if (this.fd !== null) closeSync(this.fd);
    this.fd = null;
  }

  private writeRaw(s: string): void {
    if (this.fd === null) throw new Error(`${this.path}: write after close`);
    const b = Buffer.from(s, 'utf8');
    let off = 0;
    while (off < b.length) off += writeSync(this.fd, b, off, b.length - off);
  }

  private readAt(pos: number, len: number): string {
    if (this.fd === null || len <= 0) return '';
    const b = Buffer.alloc(len);
    const n = readSync(this.fd, b, 0, len, pos);
    return b.subarray(0, n).toString('utf8');
  }
}
