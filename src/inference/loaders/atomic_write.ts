import { closeSync, openSync, renameSync, rmSync, writeSync, fsyncSync } from 'node:fs';

/**
 * Writes `chunks` to `path` through a temp file in the same directory and a rename, so a reader
 * never sees a half-written model and a crash leaves the old file in place. A generator's chunks
 * are written as they come (one in memory at a time).
 */
export function writeFileAtomic(path: string, chunks: Iterable<Uint8Array>): void {
  const tmp = `${path}.tmp-${process.pid}-${Date.now()}`;
  const fd = openSync(tmp, 'w');
  try {
    for (const c of chunks) {
      let off = 0;
      while (off < c.length) off += writeSync(fd, c, off, c.length - off);
    }
    fsyncSync(fd);
    closeSync(fd);
    renameSync(tmp, path);
  } catch (e) {
    try { closeSync(fd); } catch { /* already closed */ }
    rmSync(tmp, { force: true });
    throw e;
  }
}
