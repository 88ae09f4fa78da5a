/** `ds plot`: metric logs → one chart file (.svg or .png), the options checked before anything is read. */
import { extname } from 'node:path';
import { InputError } from '../errors.ts';
import { writeFileAtomic } from '../inference/loaders/atomic_write.ts';
import { chartSpec, renderSvg, svgToPng, type ChartOptions } from './chart.ts';
import { readRunLog, type RunSeries } from './read_log.ts';

export interface PlotOptions extends Omit<ChartOptions, 'x'> {
  readonly logs: readonly string[];
  readonly out: string;
  /** As typed: step | tokens. */
  readonly x: string;
}

export async function plotRuns(o: PlotOptions): Promise<readonly RunSeries[]> {
  const ext = extname(o.out).toLowerCase();
  if (ext !== '.svg' && ext !== '.png') throw new InputError(`ds plot: --out ${o.out} must end in .svg or .png`);
  if (o.x !== 'step' && o.x !== 'tokens') throw new InputError(`ds plot: --x ${JSON.stringify(o.x)} is not one of step, tokens`);
  if (!(o.smoothing >= 0 && o.smoothing < 1)) throw new InputError(`ds plot: --smooth ${o.smoothing} must be in [0, 1)`);
  if (o.tokensPerStep !== null && !(o.tokensPerStep > 0)) throw new InputError(`ds plot: --tokens-per-step ${o.tokensPerStep} must be positive`);
  for (const [k, v] of [['width', o.width], ['height', o.height]] as const) {
    if (!(Number.isInteger(v) && v > 0)) throw new InputError(`ds plot: --${k} ${v} must be a positive integer`);
  }
  if (o.logs.length === 0) throw new InputError('ds plot: name at least one metrics.csv or metrics.jsonl');
  const names = new Set<string>();
  // Two logs in folders of the same name are told apart by their paths.
  const runs = o.logs.map(readRunLog).map((r) => (names.has(r.name) ? { ...r, name: r.path } : (names.add(r.name), r)));
  const svg = await renderSvg(chartSpec(runs, { ...o, x: o.x }));
  writeFileAtomic(o.out, [ext === '.svg' ? new TextEncoder().encode(svg) : svgToPng(svg)]);
  return runs;
}
