import { closeSync, openSync, readSync, statSync } from 'node:fs';
import { FormatError } from '../../../errors.ts';
import { parseGguf, type GgufFile, type GgufSource } from './reader.ts';

/** Reads `path` at given offsets (opening it for each read: nothing stays open between them). */
function fileSource(path: string): GgufSource {
  return {
    size: statSync(path).size,
    readInto(offset: number, dst: Uint8Array): void {
      const fd = openSync(path, 'r');
      try {
        for (let at = 0; at < dst.length;) {
          const n = readSync(fd, dst, at, dst.length - at, offset + at);
          if (n === 0) throw new FormatError(path, `ends at ${offset + at}, ${dst.length - at} bytes short of a read at ${offset}`);
          at += n;
        }
      } finally {
        closeSync(fd);
      }
    },
  };
}

/**
 * A GGUF read from disk without holding the file: only its header is read now (a first MiB,
 * then 4× more while the header runs past what was read), and tensor data is read from the
 * file each time it is asked for (GgufFile.read / readInto), so a loader streams tensors and the
 * runner reads them straight into its memory: no second copy of the model.
 */
export function openGguf(path: string): GgufFile {
  const source = fileSource(path);
  for (let n = Math.min(source.size, 2 ** 20); ; n = Math.min(source.size, 4 * n)) {
    const head = new Uint8Array(n);
    source.readInto(0, head);
    try {
      return parseGguf(head, path, source);
    } catch (e) {
      // a header cut short by the read: read more; once the whole file was read the error stands
      if (!(e instanceof FormatError) || n >= source.size) throw e;
    }
  }
}
