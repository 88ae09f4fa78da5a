/**
 * A byte-count progress bar on stderr for long inputs: "tokenize  12.3/45.6 MB  27%  8.1 MB/s".
 * On a terminal it redraws one line; otherwise it prints a line every few seconds so logs stay short.
 */
export class ByteProgress {
  private readonly start = performance.now();
  private lastDraw = 0;
  private done = 0;

  constructor(
    private readonly label: string,
    private readonly total: number,
    private readonly enabled: boolean,
    private readonly out: NodeJS.WriteStream = process.stderr,
  ) {}

  /** Record `bytes` more processed; redraws at most 4 times a second (every 5 s off a terminal). */
  add(bytes: number): void {
    this.done += bytes;
    if (!this.enabled) return;
    const now = performance.now();
    if (now - this.lastDraw < (this.out.isTTY ? 250 : 5000)) return;
    this.lastDraw = now;
    this.draw(false);
  }

  finish(): void {
    if (this.enabled) this.draw(true);
  }

  private draw(final: boolean): void {
    const mb = (b: number): string => (b / 1e6).toFixed(1);
    const secs = Math.max((performance.now() - this.start) / 1000, 1e-3);
    const pct = this.total > 0 ? Math.min(100, (100 * this.done) / this.total) : 100;
    const width = 24;
    const filled = Math.round((pct / 100) * width);
    const bar = '#'.repeat(filled) + '-'.repeat(width - filled);
    const line = `${this.label} [${bar}] ${mb(this.done)}/${mb(this.total)} MB ${pct.toFixed(0)}% ${mb(this.done / secs)} MB/s`;
    if (this.out.isTTY) this.out.write(`\r${line}${final ? '\n' : ''}`);
    else this.out.write(`${line}\n`);
  }
}
