/**
 * Named timers for `wall_clock_breakdown`. Intervals of one timer add up within a step
 * (forward runs once per layer, comm once per bucket); `endStep()` closes the step and
 * returns its times; `format()` prints the mean per step since the last `reset()`, as
 * DeepSpeed prints every steps_per_print steps:
 *
 *   fwd: 12.30 ms | bwd: 25.10 ms | comm: 3.20 ms | optim: 1.05 ms
 */
import { assert } from '../../errors.ts';

const LABELS: Record<string, string> = { forward: 'fwd', backward: 'bwd', comm: 'comm', optimizer: 'optim' };
const ORDER = Object.keys(LABELS);

export class WallClock {
  private readonly now: () => number;
  private readonly started = new Map<string, number>();
  private readonly step = new Map<string, number>();
  private readonly window = new Map<string, number>();
  private steps = 0;

  constructor(opts: { now?: () => number } = {}) {
    this.now = opts.now ?? (() => performance.now());
  }

  start(name: string): void {
    assert(!this.started.has(name), () => `WallClock: timer "${name}" started twice without stop`);
    this.started.set(name, this.now());
  }

  /** Stops `name`; returns this interval's ms. */
  stop(name: string): number {
    const t0 = this.started.get(name);
    assert(t0 !== undefined, () => `WallClock: timer "${name}" stopped without start`);
    this.started.delete(name);
    const ms = this.now() - t0;
    this.step.set(name, (this.step.get(name) ?? 0) + ms);
    return ms;
  }

  /** Times a synchronous function under `name`. */
  time<T>(name: string, fn: () => T): T {
    this.start(name);
    try {
      return fn();
    } finally {
      this.stop(name);
    }
  }

  /** Closes the step: its ms per timer as `<name>_ms` (spread it into a MetricsLog record). */
  endStep(): Record<string, number> {
    assert(this.started.size === 0, () => `WallClock: endStep with timers still running: ${[...this.started.keys()].join(', ')}`);
    const out: Record<string, number> = {};
    for (const name of this.names(this.step)) {
      const ms = this.step.get(name)!;
      out[`${name}_ms`] = ms;
      this.window.set(name, (this.window.get(name) ?? 0) + ms);
    }
    this.step.clear();
    this.steps++;
    return out;
  }

  /** Mean ms per step of each timer since the last reset (steps where a timer did not run count as 0). */
  means(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const name of this.names(this.window)) out[name] = this.steps ? this.window.get(name)! / this.steps : 0;
    return out;
  }

  /** "fwd: X ms | bwd: Y ms | comm: Z ms | optim: W ms" over the window. */
  format(): string {
    return Object.entries(this.means())
      .map(([name, ms]) => `${LABELS[name] ?? name}: ${ms.toFixed(2)} ms`)
      .join(' | ');
  }

  reset(): void {
    this.window.clear();
    this.steps = 0;
  }

  /** The four standard timers first, then others in the order they first ran. */
  private names(m: Map<string, number>): string[] {
    return [...ORDER.filter((n) => m.has(n)), ...[...m.keys()].filter((n) => !(n in LABELS))];
  }
}
