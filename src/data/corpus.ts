/**
 * Documents of a text corpus, streamed. `.txt`: documents are separated by blank lines.
 * `.jsonl`: one JSON object per line, the document is its "text" field (blank lines skipped).
 * Each document comes with the bytes of input consumed so far, for progress.
 */
import { createReadStream, statSync } from 'node:fs';
import { extname } from 'node:path';
import { createInterface } from 'node:readline';
import { InputError } from '../errors.ts';

export interface CorpusDocument {
  readonly text: string;
  /** Bytes of the input file consumed up to and including this document. */
  readonly bytesRead: number;
}

export type CorpusKind = 'txt' | 'jsonl';

/** Checks that `file` exists and has a supported extension; returns its kind and size in bytes. */
export function inspectCorpus(file: string): { kind: CorpusKind; bytes: number } {
  const ext = extname(file).toLowerCase();
  const kind: CorpusKind | null = ext === '.txt' || ext === '.text' ? 'txt' : ext === '.jsonl' ? 'jsonl' : null;
  if (kind === null) throw new InputError(`input ${file}: expected a .txt or .jsonl file, got extension "${ext}"`);
  let size: number;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new InputError(`input ${file} is not a file`);
    size = st.size;
  } catch (err) {
    if (err instanceof InputError) throw err;
    throw new InputError(`input file not found: ${file}`);
  }
  return { kind, bytes: size };
}

export async function* readCorpus(file: string): AsyncGenerator<CorpusDocument> {
  const { kind } = inspectCorpus(file);
  const lines = createInterface({ input: createReadStream(file, { encoding: 'utf8' }), crlfDelay: Infinity });
  let bytes = 0;
  let lineNo = 0;
  let para: string[] = [];
  for await (const line of lines) {
    lineNo++;
    bytes += Buffer.byteLength(line) + 1;
    if (kind === 'jsonl') {
      if (line.trim() === '') continue;
      yield { text: jsonlText(file, lineNo, line), bytesRead: bytes };
    } else if (line.trim() === '') {
      if (para.length) yield { text: para.join('\n'), bytesRead: bytes };
      para = [];
    } else para.push(line);
  }
  if (para.length) yield { text: para.join('\n'), bytesRead: bytes };
}

function jsonlText(file: string, lineNo: number, line: string): string {
  let obj: unknown;
  try {
    obj = JSON.parse(line);
  } catch (err) {
    throw new InputError(`${file}:${lineNo}: not valid JSON (${(err as Error).message})`);
  }
  const text = typeof obj === 'object' && obj !== null ? (obj as Record<string, unknown>).text : undefined;
  if (typeof text !== 'string') throw new InputError(`${file}:${lineNo}: expected an object with a string "text" field`);
  return text;
}
