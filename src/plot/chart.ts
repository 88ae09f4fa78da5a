/**
 * Loss curves as a Vega-Lite chart: one colour per run, the raw values faint and the smoothed
 * curve on top. Vega renders the SVG in Node with no canvas (renderer "none" + toSVG); resvg
 * (prebuilt Rust binary from npm) rasterizes it to PNG.
 */
import { Resvg } from '@resvg/resvg-js';
import { parse, View } from 'vega';
import { compile, type TopLevelSpec } from 'vega-lite';
import { InputError } from '../errors.ts';
import type { RunSeries } from './read_log.ts';

export type XAxis = 'step' | 'tokens';

export interface ChartOptions {
  /** The column to draw (default loss). */
  readonly metric: string;
  readonly x: XAxis;
  /** tokens = step × this, for logs without a tokens column (global batch × sequence length). */
  readonly tokensPerStep: number | null;
  /** TensorBoard's smoothing weight in [0, 1): 0 draws the raw values only. */
  readonly smoothing: number;
  readonly logY: boolean;
  readonly width: number;
  readonly height: number;
  readonly title: string | null;
}

interface Point {
  readonly run: string;
  readonly x: number;
  readonly raw: number;
  readonly smoothed: number;
}

/**
 * TensorBoard's smoothing: an exponential moving average debiased by 1 − w^n, so the curve
 * starts at the first value rather than at 0.
 */
export function smooth(values: readonly number[], w: number): number[] {
  let ema = 0;
  return values.map((v, i) => {
    ema = ema * w + (1 - w) * v;
    return w === 0 ? v : ema / (1 - w ** (i + 1));
  });
}

export function chartPoints(runs: readonly RunSeries[], o: ChartOptions): Point[] {
  const points: Point[] = [];
  for (const r of runs) {
    const rows = r.rows.filter((row) => row[o.metric] !== undefined);
    if (rows.length === 0) throw new InputError(`ds plot: ${r.path} has no "${o.metric}" values (columns there: ${[...new Set(r.rows.flatMap(Object.keys))].join(', ')})`);
    const xs = rows.map((row) => {
      if (o.x === 'step') return row.step!;
      if (row.tokens !== undefined) return row.tokens;
      if (o.tokensPerStep !== null) return row.step! * o.tokensPerStep;
      throw new InputError(`ds plot: ${r.path} has no "tokens" column; pass --tokens-per-step (global batch × sequence length) to draw tokens on x`);
    });
    const ys = rows.map((row) => row[o.metric]!);
    const sm = smooth(ys, o.smoothing);
    rows.forEach((_, i) => points.push({ run: r.name, x: xs[i]!, raw: ys[i]!, smoothed: sm[i]! }));
  }
  return points;
}

export function chartSpec(runs: readonly RunSeries[], o: ChartOptions): TopLevelSpec {
  const values = chartPoints(runs, o);
  const x = { field: 'x', type: 'quantitative' as const, title: o.x === 'step' ? 'step' : 'tokens' };
  const yScale = o.logY ? { type: 'log' as const } : { zero: false };
  // The legend shows the smoothed line's look, not the faint raw one's.
  const color = { field: 'run', type: 'nominal' as const, title: 'run', legend: { symbolOpacity: 1, symbolStrokeWidth: 2 } };
  const line = (field: 'raw' | 'smoothed', opacity: number) => ({
    mark: { type: 'line' as const, opacity, strokeWidth: field === 'raw' ? 1 : 2, clip: true },
    encoding: { x, y: { field, type: 'quantitative' as const, title: o.metric, scale: yScale }, color },
  });
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    ...(o.title ? { title: o.title } : {}),
    width: o.width,
    height: o.height,
    background: 'white',
    data: { values },
    layer: o.smoothing > 0 ? [line('raw', 0.25), line('smoothed', 1)] : [line('raw', 1)],
  };
}

export async function renderSvg(spec: TopLevelSpec): Promise<string> {
  const view = new View(parse(compile(spec).spec), { renderer: 'none' });
  try {
    return await view.toSVG();
  } finally {
    view.finalize();
  }
}

export function svgToPng(svg: string, scale = 2): Uint8Array {
  return new Resvg(svg, { background: 'white', fitTo: { mode: 'zoom', value: scale }, font: { loadSystemFonts: true } }).render().asPng();
}
