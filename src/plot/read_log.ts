/**
 * The monitors' metric logs (src/runtime/monitor/metrics_log.ts) → one series per run:
 *   metrics.csv    header "step,loss,lr,…", one row per step, empty cell for an absent value
 *   metrics.jsonl  one JSON object per step; non-finite numbers were written as null
 * A resumed run appends to its log, so a step may appear twice: the later line wins.
 */
import { readFileSync } from 'node:fs';
import { basename, dirname, extname } from 'node:path';
import { FormatError, InputError } from '../errors.ts';

export interface RunSeries {
  /** The run's name: the log's folder (runs/<job>/metrics.csv → <job>), else the file name. */
  readonly name: string;
  readonly path: string;
  /** One row per step, in step order; values are finite numbers, absent keys absent. */
  readonly rows: readonly Readonly<Record<string, number>>[];
}

export function readRunLog(path: string): RunSeries {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new InputError(`ds plot: cannot read ${path}: ${(e as NodeJS.ErrnoException).code ?? String(e)}`);
  }
  const ext = extname(path).toLowerCase();
  const raw = ext === '.csv' ? parseCsv(text, path) : ext === '.jsonl' ? parseJsonl(text, path) : null;
  if (raw === null) throw new InputError(`ds plot: ${path} is not a .csv or .jsonl metrics log`);
  const byStep = new Map<number, Record<string, number>>();
  for (const r of raw) if (r.step !== undefined) byStep.set(r.step, r);
  if (byStep.size === 0) throw new FormatError(path, 'has no rows with a step');
  const rows = [...byStep.values()].sort((a, b) => a.step! - b.step!);
  const base = basename(path, extname(path));
  return { name: base === 'metrics' ? basename(dirname(path)) : base, path, rows };
}

/** Only finite numbers are kept: "" (absent), NaN and Infinity are dropped from the row. */
function finite(out: Record<string, number>, key: string, v: unknown): void {
  const x = typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
  if (Number.isFinite(x)) out[key] = x;
}

function parseCsv(text: string, file: string): Record<string, number>[] {
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  const header = lines[0]?.split(',').map((h) => h.trim());
  if (!header || !header.includes('step')) throw new FormatError(file, `its header ${JSON.stringify(lines[0] ?? '')} has no "step" column`);
  return lines.slice(1).map((line) => {
    const row: Record<string, number> = {};
    line.split(',').forEach((cell, i) => {
      const key = header[i];
      if (key !== undefined) finite(row, key, cell);
    });
    return row;
  });
}

function parseJsonl(text: string, file: string): Record<string, number>[] {
  const lines = text.split('\n');
  let last = lines.length - 1;
  while (last >= 0 && lines[last]!.trim() === '') last--;
  const out: Record<string, number>[] = [];
  lines.forEach((line, i) => {
    if (line.trim() === '') return;
    let o: unknown;
    try {
      o = JSON.parse(line);
    } catch {
      if (i === last) return; // a run killed mid-write leaves a partial last line
      throw new FormatError(file, `line ${i + 1} is not JSON: ${line.slice(0, 80)}`);
    }
    if (typeof o !== 'object' || o === null || Array.isArray(o)) throw new FormatError(file, `line ${i + 1} is not a JSON object`);
    const row: Record<string, number> = {};
    for (const [k, v] of Object.entries(o)) finite(row, k, v);
    out.push(row);
  });
  return out;
}
