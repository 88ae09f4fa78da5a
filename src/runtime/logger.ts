/**
 * One rank-aware logger. By default only rank 0 prints info; warnings and errors print on
 * every rank with a `[rank N]` prefix when the world has more than one rank.
 * Output goes to stderr so stdout stays clean for `--json` results.
 */
export type LogLevel = 'debug' | 'info' | 'warn' | 'error' | 'silent';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40, silent: 100 };

export interface LoggerOptions {
  rank: number;
  worldSize: number;
  level: LogLevel;
  /** Print info/debug from every rank instead of rank 0 only. */
  allRanks: boolean;
  /** Prefix lines with [rank N]; off when the launcher already prefixes each rank's output. */
  prefix: boolean;
}

export class Logger {
  private opts: LoggerOptions;
  constructor(opts: Partial<LoggerOptions> = {}) {
    this.opts = {
      rank: 0,
      worldSize: 1,
      level: (process.env.DS_LOG_LEVEL as LogLevel | undefined) ?? 'info',
      allRanks: false,
      prefix: true,
      ...opts,
    };
  }
  configure(opts: Partial<LoggerOptions>): void {
    this.opts = { ...this.opts, ...opts };
  }
  get rank(): number {
    return this.opts.rank;
  }
  private emit(level: LogLevel, args: unknown[]): void {
    if (ORDER[level] < ORDER[this.opts.level]) return;
    const quiet = level === 'info' || level === 'debug';
    if (quiet && !this.opts.allRanks && this.opts.rank !== 0) return;
    const prefix = this.opts.prefix && this.opts.worldSize > 1 ? `[rank ${this.opts.rank}] ` : '';
    const text = args.map((a) => (typeof a === 'string' ? a : a instanceof Error ? a.message : JSON.stringify(a))).join(' ');
    process.stderr.write(`${prefix}${level === 'info' ? '' : level + ': '}${text}\n`);
  }
  debug(...args: unknown[]): void { this.emit('debug', args); }
  info(...args: unknown[]): void { this.emit('info', args); }
  warn(...args: unknown[]): void { this.emit('warn', args); }
  error(...args: unknown[]): void { this.emit('error', args); }
}

/** The process-wide logger; the engine configures rank and world size once at initialize(). */
export const log = new Logger();
