/**
 * Crash-safe file writes: the bytes go to a temporary name in the same directory, are
 * fsynced, then renamed over the final name, and the directory is fsynced so the rename
 * itself survives a power loss. A reader therefore sees either no file or the whole file.
 */
import { createHash, randomBytes } from 'node:crypto';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/** Test hooks: observe (or, in the kill -9 test, die at) points of the write. */
export interface WriteHooks {
  /** After each chunk reaches the temporary file; `tmpPath` is that file. */
  onChunkWritten?: (tmpPath: string, bytesSoFar: number) => void | Promise<void>;
  /** After a file has been renamed into its final place. */
  onFileWritten?: (path: string) => void | Promise<void>;
}

export interface WrittenFile {
  readonly bytes: number;
  readonly sha256: string;
}

/** Writes in pieces of this many bytes, so a huge buffer is hashed and written without a copy. */
const CHUNK = 8 << 20;

export const TMP_MARK = '.tmp-';

/** `.rank_0.params.bin.tmp-<pid>-<hex>`: hidden, and unique per writer. */
export function tmpNameFor(path: string): string {
  return join(dirname(path), `.${basename(path)}${TMP_MARK}${process.pid}-${randomBytes(4).toString('hex')}`);
}

export async function writeFileAtomic(path: string, data: Uint8Array, hooks: WriteHooks = {}): Promise<WrittenFile> {
  const tmp = tmpNameFor(path);
  const hash = createHash('sha256');
  const fh = await open(tmp, 'w');
  try {
    let done = 0;
    while (done < data.byteLength) {
      const piece = data.subarray(done, Math.min(done + CHUNK, data.byteLength));
      let off = 0;
      while (off < piece.byteLength) {
        const { bytesWritten } = await fh.write(piece, off, piece.byteLength - off);
        off += bytesWritten;
      }
      hash.update(piece);
      done += piece.byteLength;
      await hooks.onChunkWritten?.(tmp, done);
    }
    await fh.sync();
  } catch (e) {
    await fh.close().catch(() => undefined);
    await rm(tmp, { force: true });
    throw e;
  }
  await fh.close();
  await rename(tmp, path);
  await fsyncDir(dirname(path));
  await hooks.onFileWritten?.(path);
  return { bytes: data.byteLength, sha256: hash.digest('hex') };
}

/** fsync a directory so the entries created or renamed in it are durable. */
export async function fsyncDir(dir: string): Promise<void> {
  const fh = await open(dir, 'r');
  try {
    await fh.sync();
  } finally {
    await fh.close();
  }
}
