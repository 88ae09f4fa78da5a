/** CSV and JSONL logs parse back to the records written; append mode; a killed run keeps its lines. */
import { spawnSync } from 'node:child_process';
import { appendFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, expect, it } from 'vitest';
import { FormatError } from '../../../src/errors.ts';
import { COLUMNS, MetricsLog, type StepRecord } from '../../../src/runtime/monitor/index.ts';

const root = mkdtempSync(join(tmpdir(), 'ds-metrics-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CHILD = fileURLToPath(new URL('./fixtures/log_then_die.ts', import.meta.url));

/** A plain CSV reader: header row, then numbers ('' → undefined). */
function parseCsv(text: string): { header: string[]; rows: Record<string, number | undefined>[] } {
  const lines = text.split('\n').filter((l) => l !== '');
  const header = lines[0]!.split(',');
  const rows = lines.slice(1).map((l) => Object.fromEntries(l.split(',').map((cell, i) => [header[i]!, cell === '' ? undefined : Number(cell)])));
  return { header, rows };
}
const parseJsonl = (text: string): Record<string, unknown>[] => text.split('\n').filter((l) => l !== '').map((l) => JSON.parse(l) as Record<string, unknown>);
const dense = (r: StepRecord): Record<string, number | undefined> => Object.fromEntries(COLUMNS.map((c) => [c, (r as unknown as Record<string, number | undefined>)[c]]));

const records: StepRecord[] = [
  { step: 1, loss: 10.123456789012345, lr: 1e-5, grad_norm: 3.3333333333333335, tokens_per_s: 4096.5 },
  { step: 2, loss: 9.5, lr: 2e-5, grad_norm: 2.5, tokens_per_s: 5000, forward_ms: 12.25, backward_ms: 30.5, comm_ms: 1.75, optimizer_ms: 0.5 },
  { step: 3, loss: 8.25, lr: 3e-5 },
];

it('writes output_path/job_name/metrics.{csv,jsonl} that parse back to the exact records', () => {
  const log = new MetricsLog({ outputPath: root, jobName: 'run1' });
  for (const r of records) log.write(r);
  log.close();
  expect(log.files).toEqual({ csv: join(root, 'run1', 'metrics.csv'), jsonl: join(root, 'run1', 'metrics.jsonl') });
  const csv = parseCsv(readFileSync(log.files.csv!, 'utf8'));
  expect(csv.header).toEqual([...COLUMNS]);
  expect(csv.rows).toEqual(records.map(dense));
  expect(parseJsonl(readFileSync(log.files.jsonl!, 'utf8'))).toEqual(records);
});

it('appends to an existing log with the header once; a different header is a FormatError', () => {
  const first = new MetricsLog({ outputPath: root, jobName: 'resumed' });
  first.write(records[0]!);
  first.close();
  const second = new MetricsLog({ outputPath: root, jobName: 'resumed' });
  second.write(records[1]!);
  second.close();
  const text = readFileSync(second.files.csv!, 'utf8');
  expect(text.split('\n').filter((l) => l.startsWith('step,')).length).toBe(1);
  expect(parseCsv(text).rows).toEqual([dense(records[0]!), dense(records[1]!)]);
  expect(parseJsonl(readFileSync(second.files.jsonl!, 'utf8'))).toEqual([records[0], records[1]]);

  mkdirSync(join(root, 'other'));
  writeFileSync(join(root, 'other', 'metrics.csv'), 'step,loss\n1,2\n');
  expect(() => new MetricsLog({ outputPath: root, jobName: 'other' })).toThrow(FormatError);
  expect(() => new MetricsLog({ outputPath: root, jobName: 'other' })).toThrow(/header is "step,loss", this run writes "step,loss,lr,/);
});

it('a line cut off by a crash does not swallow the next record', () => {
  const log = new MetricsLog({ outputPath: root, jobName: 'cut', formats: ['jsonl'] });
  log.write(records[0]!);
  log.close();
  appendFileSync(log.files.jsonl!, '{"step": 2, "lo');
  const again = new MetricsLog({ outputPath: root, jobName: 'cut', formats: ['jsonl'] });
  again.write(records[2]!);
  again.close();
  const lines = readFileSync(log.files.jsonl!, 'utf8').split('\n');
  expect(JSON.parse(lines[2]!)).toEqual(records[2]);
});

it('NaN loss: "NaN" in CSV, null in JSONL', () => {
  const log = new MetricsLog({ outputPath: root, jobName: 'nan' });
  log.write({ step: 1, loss: NaN, lr: 1e-3 });
  log.close();
  expect(readFileSync(log.files.csv!, 'utf8').split('\n')[1]).toBe('1,NaN,0.001,,,,,,');
  expect(parseJsonl(readFileSync(log.files.jsonl!, 'utf8'))).toEqual([{ step: 1, loss: null, lr: 1e-3 }]);
});

it('fromConfig: only when enabled and on rank 0', () => {
  const cfg = { enabled: true, output_path: root, job_name: 'cfg' };
  expect(MetricsLog.fromConfig(cfg, 1)).toBeNull();
  expect(MetricsLog.fromConfig({ ...cfg, enabled: false }, 0)).toBeNull();
  const log = MetricsLog.fromConfig(cfg, 0)!;
  log.close();
  expect(log.dir).toBe(join(root, 'cfg'));
});

it('a run killed with SIGKILL keeps every line it logged', () => {
  const r = spawnSync(process.execPath, ['--import', './bin/register.js', CHILD, root, '50'], { cwd: ROOT, encoding: 'utf8' });
  expect(r.signal, r.stderr).toBe('SIGKILL');
  const csv = parseCsv(readFileSync(join(root, 'killed', 'metrics.csv'), 'utf8'));
  expect(csv.rows.map((x) => x.step)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
  expect(csv.rows[49]!.loss).toBe(10 / 50);
  const jsonl = parseJsonl(readFileSync(join(root, 'killed', 'metrics.jsonl'), 'utf8'));
  expect(jsonl.length).toBe(50);
  expect(jsonl[49]).toEqual({ step: 50, loss: 10 / 50, lr: 1e-3 * 50, tokens_per_s: 1050 });
});
