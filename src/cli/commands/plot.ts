/** `ds plot LOG... --out loss.svg|loss.png`: loss curves from the monitors' CSV/JSONL logs, several runs on one chart. */
import type { Argv, CommandModule } from 'yargs';
import { plotRuns } from '../../plot/plot.ts';

interface Args {
  logs: string[];
  out: string;
  x: string;
  metric: string;
  smooth: number;
  'tokens-per-step': number | undefined;
  'log-y': boolean;
  width: number;
  height: number;
  title: string | undefined;
}

export const plotCommand: CommandModule<object, Args> = {
  command: 'plot <logs..>',
  describe: 'draw loss curves (SVG or PNG) from csv_monitor logs (metrics.csv / metrics.jsonl)',
  builder: (y: Argv) =>
    y
      .positional('logs', { type: 'string', array: true, describe: 'metrics.csv or metrics.jsonl files, one run each' })
      .option('out', { type: 'string', demandOption: true, describe: 'output .svg or .png' })
      .option('x', { type: 'string', default: 'step', describe: 'x axis: step | tokens' })
      .option('metric', { type: 'string', default: 'loss', describe: 'column to draw (loss, lr, grad_norm, …)' })
      .option('smooth', { type: 'number', default: 0.6, describe: 'TensorBoard smoothing weight in [0, 1); 0 = raw values only' })
      .option('tokens-per-step', { type: 'number', describe: 'for --x tokens on logs without a tokens column: global batch × seq len' })
      .option('log-y', { type: 'boolean', default: false, describe: 'logarithmic y axis' })
      .option('width', { type: 'number', default: 640 })
      .option('height', { type: 'number', default: 360 })
      .option('title', { type: 'string' }) as unknown as Argv<Args>,
  handler: async (a) => {
    const runs = await plotRuns({
      logs: a.logs, out: a.out, x: a.x, metric: a.metric, smoothing: a.smooth, tokensPerStep: a['tokens-per-step'] ?? null,
      logY: a['log-y'], width: a.width, height: a.height, title: a.title ?? null,
    });
    process.stdout.write(`wrote ${a.out}: ${runs.map((r) => `${r.name} (${r.rows.length} steps)`).join(', ')}\n`);
  },
};
