/** ds plot: loss curves from real MetricsLog files, several runs on one chart, SVG and PNG. */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { MetricsLog } from '../../src/runtime/monitor/index.ts';
import { chartPoints, smooth } from '../../src/plot/chart.ts';
import { readRunLog } from '../../src/plot/read_log.ts';
import { plotRuns, type PlotOptions } from '../../src/plot/plot.ts';

const dir = mkdtempSync(join(tmpdir(), 'ds-plot-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Two runs as the training loop logs them; run "b" is resumed at step 20 and logs 16..20 again. */
function logs(): { a: string; b: string } {
  const a = new MetricsLog({ outputPath: dir, jobName: 'a' });
  for (let s = 1; s <= 40; s++) a.write({ step: s, loss: 3 / Math.sqrt(s), lr: 1e-3 });
  a.close();
  const b = new MetricsLog({ outputPath: dir, jobName: 'b' });
  for (let s = 1; s <= 20; s++) b.write({ step: s, loss: 99, lr: 1e-3 });
  b.close();
  const b2 = new MetricsLog({ outputPath: dir, jobName: 'b' });
  for (let s = 16; s <= 30; s++) b2.write({ step: s, loss: 2 / Math.sqrt(s), lr: 1e-3, grad_norm: Number.NaN });
  b2.close();
  return { a: join(dir, 'a', 'metrics.csv'), b: join(dir, 'b', 'metrics.jsonl') };
}
const { a, b } = logs();
const ds = (...args: string[]) => execFileSync('node', ['bin/ds.js', 'plot', ...args], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });

describe('reading the monitors\' logs', () => {
  it('CSV and JSONL give one row per step; a resumed run\'s later lines win; non-finite values are dropped', () => {
    const ra = readRunLog(a);
    expect(ra.name).toBe('a');
    expect(ra.rows.map((r) => r.step)).toEqual(Array.from({ length: 40 }, (_, i) => i + 1));
    expect(ra.rows[3]).toEqual({ step: 4, loss: 1.5, lr: 1e-3 });
    const rb = readRunLog(b);
    expect(rb.rows.map((r) => r.step)).toEqual(Array.from({ length: 30 }, (_, i) => i + 1));
    expect(rb.rows[15]).toEqual({ step: 16, loss: 0.5, lr: 1e-3 });
    expect(rb.rows[14]!.loss).toBe(99);
  });

  it('smoothing is TensorBoard\'s debiased EMA', () => {
    expect(smooth([4, 4, 4], 0.9)).toEqual([4, 4, 4].map((v) => expect.closeTo(v, 12)));
    const w = 0.5;
    expect(smooth([2, 4], w)[1]).toBeCloseTo((w * (1 - w) * 2 + (1 - w) * 4) / (1 - w * w), 12);
    expect(smooth([1, 5, 2], 0)).toEqual([1, 5, 2]);
  });

  it('tokens on x come from --tokens-per-step when the log has no tokens column, else it says what is missing', () => {
    const o = { metric: 'loss', x: 'tokens' as const, smoothing: 0, logY: false, width: 10, height: 10, title: null };
    expect(chartPoints([readRunLog(a)], { ...o, tokensPerStep: 1024 })[2]).toMatchObject({ x: 3072, raw: 3 / Math.sqrt(3) });
    expect(() => chartPoints([readRunLog(a)], { ...o, tokensPerStep: null })).toThrow(/has no "tokens" column; pass --tokens-per-step/);
    expect(() => chartPoints([readRunLog(a)], { ...o, metric: 'grad_norm', tokensPerStep: 1 })).toThrow(/has no "grad_norm" values \(columns there: step, loss, lr\)/);
  });
});

describe('ds plot', () => {
  it('draws both runs into one SVG: a legend entry and a raw + smoothed line per run', () => {
    const out = join(dir, 'loss.svg');
    expect(ds(a, b, '--out', out, '--smooth', '0.8', '--title', 'two runs')).toMatch(/wrote .*loss\.svg: a \(40 steps\), b \(30 steps\)/);
    const svg = readFileSync(out, 'utf8');
    expect(svg.startsWith('<svg')).toBe(true);
    expect(svg).toContain('two runs');
    expect(svg.match(/aria-roledescription="line mark"/g)?.length).toBe(4);
    expect(svg).toMatch(/>a<\/text>/);
    expect(svg).toMatch(/>b<\/text>/);
  }, 90_000);

  const opts = (over: Partial<PlotOptions>): PlotOptions => ({
    logs: [a], out: join(dir, 'x.svg'), x: 'step', metric: 'loss', smoothing: 0.6, tokensPerStep: null, logY: false, width: 640, height: 360, title: null, ...over,
  });

  it('writes a PNG, with tokens on x and a log y axis', async () => {
    const out = join(dir, 'loss.png');
    await plotRuns(opts({ out, x: 'tokens', tokensPerStep: 2048, logY: true, width: 320, height: 200 }));
    const png = readFileSync(out);
    expect([...png.subarray(0, 8)]).toEqual([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
    expect(png.readUInt32BE(16)).toBeGreaterThan(640); // 2× scale of a 320-wide plot plus axes
  });

  it('bad input fails with a message and writes nothing', async () => {
    writeFileSync(join(dir, 'bad.jsonl'), '{"step": 1, "loss": 2}\nnot json\n{"step": 2, "loss": 1}\n');
    await expect(plotRuns(opts({ logs: [join(dir, 'bad.jsonl')] }))).rejects.toThrow(/bad\.jsonl: line 2 is not JSON/);
    await expect(plotRuns(opts({ out: join(dir, 'x.pdf') }))).rejects.toThrow(/must end in \.svg or \.png/);
    await expect(plotRuns(opts({ smoothing: 1 }))).rejects.toThrow(/--smooth 1 must be in \[0, 1\)/);
    await expect(plotRuns(opts({ x: 'time' }))).rejects.toThrow(/--x "time" is not one of step, tokens/);
    expect(() => readFileSync(join(dir, 'x.svg'))).toThrow();
  });
});
