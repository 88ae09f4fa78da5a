/**
 * The flops profiler's printout, in DeepSpeed's order: a summary of the profiled step, the top
 * modules by params, MACs and latency, then one line per layer. deepscale's model is a flat
 * list of layers (depth 1), so module_depth 0 is the model alone and any deeper depth is the layers.
 */
import type { LayerProfile } from '../engine/profile.ts';

export interface FlopsReportInput {
  readonly step: number;
  readonly worldSize: number;
  readonly dpSize: number;
  /** Tensor-parallel ranks and pipeline stages (1 and 1 without them); `stage`: the profiled rank's stage. */
  readonly mpSize?: number;
  readonly ppSize?: number;
  readonly stage?: number;
  readonly batchSize: number;
  readonly seqLen: number;
  readonly layers: readonly LayerProfile[];
  /** The profiled step's backward and whole-step times (ms), from the engine's timers. */
  readonly bwdMs: number;
  readonly stepMs: number;
}

export interface FlopsReportOptions {
  readonly moduleDepth: number;
  readonly topModules: number;
  readonly detailed: boolean;
}

const si = (x: number, unit = ''): string => {
  const units = ['', 'K', 'M', 'G', 'T', 'P'];
  let i = 0;
  while (Math.abs(x) >= 1000 && i < units.length - 1) {
    x /= 1000;
    i++;
  }
  return `${x.toFixed(2)} ${units[i]}${unit}`;
};
const ms = (x: number): string => `${x.toFixed(2)} ms`;
const pct = (a: number, b: number): string => `${b > 0 ? ((100 * a) / b).toFixed(2) : '0.00'}%`;
const row = (label: string, value: string): string => `${label.padEnd(62)}${value}`;

export function formatFlopsReport(r: FlopsReportInput, o: FlopsReportOptions): string {
  const params = r.layers.reduce((s, l) => s + l.params, 0);
  const macs = r.layers.reduce((s, l) => s + l.macs, 0);
  const flops = r.layers.reduce((s, l) => s + l.flops, 0);
  const fwdMs = r.layers.reduce((s, l) => s + l.fwdMs, 0);
  const lines = [
    '-------------------------- deepscale Flops Profiler --------------------------',
    `Profile Summary at step ${r.step}:`,
    'Notations: data parallel size (dp_size), model parallel size (mp_size), number of parameters (params),',
    'number of multiply-accumulate operations (MACs), number of floating-point operations (flops),',
    'floating-point operations per second (FLOPS), fwd latency (forward propagation latency),',
    'bwd latency (backward propagation latency), step (weights update latency), iter latency (sum of fwd, bwd and step latency)',
    '',
    row('world size:', String(r.worldSize)),
    row('data parallel size:', String(r.dpSize)),
    row('model parallel size:', String(r.mpSize ?? 1)),
    ...((r.ppSize ?? 1) > 1 ? [row('pipeline stages:', `${r.ppSize} (this rank: stage ${r.stage ?? 0}, its layers only)`)] : []),
    row('batch size per rank:', String(r.batchSize)),
    row('sequence length:', String(r.seqLen)),
    row('params per rank:', si(params)),
    row('fwd MACs per rank:', si(macs)),
    row('fwd flops per rank:', si(flops)),
    row('fwd latency:', ms(fwdMs)),
    row('fwd FLOPS per rank = fwd flops per rank / fwd latency:', si(fwdMs > 0 ? flops / (fwdMs / 1000) : 0, 'FLOPS')),
    row('bwd latency (whole step, all micro-batches):', ms(r.bwdMs)),
    row('iter latency (whole step):', ms(r.stepMs)),
    '(fwd figures: one forward of the step\'s last micro-batch, layer by layer, after the update)',
  ];
  if (o.moduleDepth === 0) return lines.join('\n');
  const top = (key: 'params' | 'macs' | 'fwdMs', fmt: (x: number) => string): string =>
    [...r.layers].sort((a, b) => b[key] - a[key]).slice(0, o.topModules).map((l) => `${l.name}: ${fmt(l[key])}`).join(', ');
  lines.push(
    '',
    '----------------------------- Aggregated Profile per rank -----------------------------',
    `Top ${o.topModules} modules in terms of params, MACs or fwd latency at depth 1:`,
    `params      - ${top('params', (x) => si(x))}`,
    `MACs        - ${top('macs', (x) => si(x, 'MACs'))}`,
    `fwd latency - ${top('fwdMs', ms)}`,
  );
  if (o.detailed) {
    lines.push(
      '',
      '------------------------------ Detailed Profile per rank ------------------------------',
      'Each module profile is listed after its name in the following order:',
      'params, percentage of total params, MACs, percentage of total MACs, fwd latency, percentage of total fwd latency, fwd FLOPS',
      '',
      `Model: ${si(params)} = 100% Params, ${si(macs, 'MACs')} = 100% MACs, ${ms(fwdMs)} = 100% latency`,
    );
    for (const l of r.layers) {
      const flopsPerS = l.fwdMs > 0 ? l.flops / (l.fwdMs / 1000) : 0;
      lines.push(`  (${l.name}): ${si(l.params)}, ${pct(l.params, params)} Params, ${si(l.macs, 'MACs')}, ${pct(l.macs, macs)} MACs, ${ms(l.fwdMs)}, ${pct(l.fwdMs, fwdMs)} latency, ${si(flopsPerS, 'FLOPS')}`);
    }
  }
  lines.push('------------------------------------------------------------------------------');
  return lines.join('\n');
}
