/** Checkpoint test helpers: temp dirs, seeded data, an in-process barrier for W "ranks". */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const made: string[] = [];

/** A fresh temp dir, removed by `removeTempDirs` (call it from afterAll). */
export function tempDir(prefix = 'ds-ckpt-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  made.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const d of made.splice(0)) rmSync(d, { recursive: true, force: true });
}

export { seededFloats as seeded } from '../../helpers/random.ts';

/** A reusable barrier for `n` callers in one process (what a process group's barrier does across processes). */
export function memoryBarrier(n: number): () => Promise<void> {
  let waiting: (() => void)[] = [];
  return () =>
    new Promise<void>((resolve) => {
      waiting.push(resolve);
      if (waiting.length === n) {
        const go = waiting;
        waiting = [];
        for (const r of go) r();
      }
    });
}

export const bytesOf = (a: ArrayBufferView): Buffer => Buffer.from(a.buffer, a.byteOffset, a.byteLength);
