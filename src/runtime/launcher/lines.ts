/**
 * Copies a child's output to ours a whole line at a time, each line prefixed (`[rank 1] `),
 * so lines from different ranks never interleave mid-line.
 */
import type { Readable, Writable } from 'node:stream';

/** Resolves when `src` ends; a last line without a newline is flushed with one. */
export function pipeLines(src: Readable, dst: Writable, prefix: string): Promise<void> {
  src.setEncoding('utf8');
  let pending = '';
  return new Promise((resolve) => {
    src.on('data', (chunk: string) => {
      const text = pending + chunk;
      const cut = text.lastIndexOf('\n');
      if (cut < 0) {
        pending = text;
        return;
      }
      pending = text.slice(cut + 1);
      const lines = text.slice(0, cut).split('\n');
      // One write per chunk: a single write is never split by another rank's write.
      dst.write(lines.map((l) => prefix + l + '\n').join(''));
    });
    const finish = (): void => {
      if (pending !== '') dst.write(prefix + pending + '\n');
      pending = '';
      resolve();
    };
    src.on('end', finish);
    src.on('error', finish);
  });
}
