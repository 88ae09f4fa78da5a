/**
 * A training progress bar on stderr, rank 0 only (`enabled`). On a terminal it is redrawn
 * in place with \r; in a log file (non-TTY) it prints one full line every `intervalMs`,
 * and always at the last step, so logs stay readable.
 *
 *   step 40/100 [########------------] loss 2.104 | lr 3.0e-4 | 5400 tok/s | ETA 1m12s
 */
import { formatDuration, formatLoss, formatLr, formatRate } from './format.ts';

export interface ProgressStream {
  write(s: string): unknown;
  isTTY?: boolean;
}

export interface ProgressOptions {
  total: number;
  /** Off on every rank but 0. */
  enabled?: boolean;
  /** The step training starts from (a resumed run): ETA counts only steps done in this run. */
  startStep?: number;
  stream?: ProgressStream;
  /** Defaults to stream.isTTY. */
  tty?: boolean;
  /** Non-TTY: the least time between printed lines (ms). */
  intervalMs?: number;
  /** TTY: the least time between redraws (ms). */
  redrawMs?: number;
  now?: () => number;
}

export interface ProgressUpdate {
  step: number;
  loss?: number;
  lr?: number;
  tokensPerSec?: number;
}

const BAR = 20;

export class ProgressBar {
  private readonly total: number;
  private readonly enabled: boolean;
  private readonly stream: ProgressStream;
  private readonly tty: boolean;
  private readonly intervalMs: number;
  private readonly redrawMs: number;
  private readonly now: () => number;
  private readonly startStep: number;
  private readonly startTime: number;
  private lastShown = -Infinity;
  private last: ProgressUpdate | null = null;
  private pending = false;

  constructor(opts: ProgressOptions) {
    this.total = opts.total;
    this.enabled = opts.enabled ?? true;
    this.stream = opts.stream ?? process.stderr;
    this.tty = opts.tty ?? this.stream.isTTY === true;
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.redrawMs = opts.redrawMs ?? 100;
    this.now = opts.now ?? (() => performance.now());
    this.startStep = opts.startStep ?? 0;
    this.startTime = this.now();
  }

  update(u: ProgressUpdate): void {
    if (!this.enabled) return;
    this.last = u;
    const t = this.now();
    const final = u.step >= this.total;
    if (!final && t - this.lastShown < (this.tty ? this.redrawMs : this.intervalMs)) {
      this.pending = true;
      return;
    }
    this.show(u, t);
  }

  /** Ends the bar: TTY moves to a fresh line; non-TTY prints the last state if it was not printed. */
  finish(): void {
    if (!this.enabled || !this.last) return;
    if (this.pending) this.show(this.last, this.now());
    if (this.tty) this.stream.write('\n');
  }

  /** The text of one state, without \r or newline. */
  line(u: ProgressUpdate, t: number = this.now()): string {
    const frac = this.total > 0 ? Math.min(1, Math.max(0, u.step / this.total)) : 0;
    const filled = Math.round(frac * BAR);
    const parts = [`step ${u.step}/${this.total} [${'#'.repeat(filled)}${'-'.repeat(BAR - filled)}]`];
    const tail: string[] = [];
    if (u.loss !== undefined) tail.push(`loss ${formatLoss(u.loss)}`);
    if (u.lr !== undefined) tail.push(`lr ${formatLr(u.lr)}`);
    if (u.tokensPerSec !== undefined) tail.push(`${formatRate(u.tokensPerSec)} tok/s`);
    const done = u.step - this.startStep;
    const eta = done > 0 ? ((t - this.startTime) / done) * Math.max(0, this.total - u.step) : NaN;
    tail.push(`ETA ${formatDuration(eta)}`);
    return `${parts[0]} ${tail.join(' | ')}`;
  }

  private show(u: ProgressUpdate, t: number): void {
    const text = this.line(u, t);
    // \x1b[K clears what a longer previous line left to the right.
    this.stream.write(this.tty ? `\r${text}\x1b[K` : `${text}\n`);
    this.lastShown = t;
    this.pending = false;
  }
}
