/**
 * Per-step metrics as CSV and JSONL, like DeepSpeed's csv_monitor: files go under
 * output_path/job_name/ (metrics.csv, metrics.jsonl). Appending to an existing log
 * continues it (a resumed run); the CSV header is written once, and an existing header
 * that differs is an error rather than a file with mixed columns.
 */
import { join } from 'node:path';
import { FormatError } from '../../errors.ts';
import { LineFile } from './line_file.ts';
import { COLUMNS, type StepRecord } from './record.ts';

export type MetricsFormat = 'csv' | 'jsonl';

export interface MetricsLogOptions {
  outputPath: string;
  jobName: string;
  formats?: readonly MetricsFormat[];
  /** File name without extension. */
  baseName?: string;
}

export class MetricsLog {
  readonly dir: string;
  readonly files: Partial<Record<MetricsFormat, string>> = {};
  private readonly csv: LineFile | null = null;
  private readonly jsonl: LineFile | null = null;

  constructor(opts: MetricsLogOptions) {
    this.dir = join(opts.outputPath, opts.jobName);
    const formats = opts.formats ?? ['csv', 'jsonl'];
    const base = opts.baseName ?? 'metrics';
    if (formats.includes('csv')) {
      const f = new LineFile(join(this.dir, `${base}.csv`));
      const header = COLUMNS.join(',');
      if (f.initialSize === 0) f.writeLine(header);
      else {
        const found = f.firstLine();
        if (found !== header) {
          f.close();
          throw new FormatError(f.path, `its header is "${found}", this run writes "${header}"; use another job_name or move the file`);
        }
        f.endPartialLine();
      }
      this.csv = f;
      this.files.csv = f.path;
    }
    if (formats.includes('jsonl')) {
      this.jsonl = new LineFile(join(this.dir, `${base}.jsonl`));
      this.jsonl.endPartialLine();
      this.files.jsonl = this.jsonl.path;
    }
  }

  /**
   * The logger for a `csv_monitor` config slice, or null when it is off or this is not rank 0.
   * JSONL is written beside the CSV.
   */
  static fromConfig(cfg: { enabled: boolean; output_path: string; job_name: string } | undefined, rank: number): MetricsLog | null {
    if (!cfg?.enabled || rank !== 0) return null;
    return new MetricsLog({ outputPath: cfg.output_path, jobName: cfg.job_name });
  }

  write(r: StepRecord): void {
    const rec = r as unknown as Record<string, number | undefined>;
    // CSV: empty cell for an absent value; NaN/Infinity as JS prints them (pandas reads both).
    this.csv?.writeLine(COLUMNS.map((c) => (rec[c] === undefined ? '' : String(rec[c]))).join(','));
    // JSONL: the keys present; JSON has no NaN, so a non-finite number is written as null.
    this.jsonl?.writeLine(JSON.stringify(r, (_k, v: unknown) => (typeof v === 'number' && !Number.isFinite(v) ? null : v)));
  }

  close(): void {
    this.csv?.close();
    this.jsonl?.close();
  }
}
