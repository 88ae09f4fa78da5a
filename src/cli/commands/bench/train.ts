/**
 * `ds bench train [--config C] [--zero-stage S[,S…]] [--zero JSON] [--num_procs N] [--offload] [--steps N] [--json]`
 * `ds bench train --tp N --pp M [--num_procs K] [--micro-batches G]`: a 3D layout (train_layout.ts).
 *
 * training step time, tokens/s, per-rank bytes by kind (ZeRO's model states, as allocated),
 * communication bytes per step and the final loss, one row per ZeRO stage. Each row is a real
 * run: ds-launch starts N ranks of train_rank.ts, which go through initialize() as a user's
 * script does. Random tokens; the step after `--warmup` steps is timed.
 *
 * A config whose optimizer is OneBitAdam gets two whole runs on its built-in task instead, 1-bit
 * Adam and Adam, compared by wire bytes per phase, total bytes, step time and loss (train_onebit.ts).
 */
import { execFile } from 'node:child_process';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import type { CommandModule } from 'yargs';
import { InputError, LaunchError } from '../../../errors.ts';
import { formatTable } from '../../table.ts';
import type { MemoryReport } from '../../../runtime/engine/reducer.ts';
import type { RankArgs } from './train_rank.ts';
import { formatOneBit, oneBitPlan, summarizeOneBit, type PerStep } from './train_onebit.ts';
import { formatMfu, machinePeak } from './train_peak.ts';
import { fasterTorch, formatTorch, runTorchPeers, type TorchResult } from './train_torch.ts';
import { layoutBench } from './train_layout.ts';

export interface Args { config: string; 'zero-stage'?: string; zero?: string; num_procs?: number; offload: boolean; steps?: number; warmup: number; json: boolean; master_port: number; 'compare-torch': boolean; 'compare-wasm': boolean; rounds: number; tp?: number; pp?: number; 'micro-batches'?: number }

export interface Row {
  stage: number; world_size: number; backend: string; step_ms: number; tokens_per_s: number; model_gflops: number;
  forward_ms: number; backward_ms: number; boundary_ms: number; comm_bytes_per_step: number; memory: MemoryReport; final_loss: number;
  held_out_loss: number | null; per_step: PerStep;
  layout: { dp: number; tp: number; pp: number; micro_batches: number }; pipeline_idle_ms: number;
  sent_bytes_per_step: { data: number; model: number; pipe: number };
}

const RANK_SCRIPT = fileURLToPath(new URL('./train_rank.ts', import.meta.url));
const LAUNCHER = fileURLToPath(new URL('../../../../bin/ds-launch.js', import.meta.url));

export async function runStage(argv: Args, stage: number | null, port: number, extra: Partial<RankArgs> = {}, env: Record<string, string> = {}, procs = argv.num_procs ?? 1): Promise<Row> {
  const rankArgs: RankArgs = { config: argv.config, stage, zero: parseZero(argv.zero), offload: argv.offload, steps: argv.steps ?? 3, warmup: argv.warmup, ...extra };
  try {
    const { stdout } = await promisify(execFile)('node', [LAUNCHER, '--num_procs', String(procs), '--master_port', String(port), RANK_SCRIPT, JSON.stringify(rankArgs)], {
      encoding: 'utf8', maxBuffer: 1 << 24, env: { ...process.env, DS_LOG_LEVEL: process.env.DS_LOG_LEVEL ?? 'warn', ...env },
    });
    const line = stdout.split('\n').find((l) => l.includes('"step_ms"'));
    if (!line) throw new LaunchError(`ds bench train: stage ${stage}: rank 0 printed no result:\n${stdout.slice(-2000)}`);
    return JSON.parse(line.replace(/^\[rank \d+\] /, '')) as Row;
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    if (err instanceof LaunchError) throw err;
    throw new LaunchError(`ds bench train: the stage ${stage ?? '(config)'} run failed: ${(err.stderr ?? err.message).trim().split('\n').slice(-6).join('\n')}`);
  }
}

function parseZero(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {};
  try {
    const v = JSON.parse(text) as unknown;
    if (v && typeof v === 'object' && !Array.isArray(v)) return v as Record<string, unknown>;
  } catch {
    // reported below
  }
  throw new InputError(`ds bench train: --zero takes a JSON object merged into zero_optimization, e.g. '{"stage3_param_persistence_threshold": 0}', got ${text}`);
}

const mib = (b: number): string => (b / 2 ** 20).toFixed(2);

export const trainBenchCommand: CommandModule<object, Args> = {
  command: 'train',
  describe: 'training step time, per-rank memory and traffic for ZeRO stages, through initialize (random tokens)',
  builder: (y) =>
    y
      .option('config', { type: 'string', default: 'configs/bench_reference.json5' })
      .option('zero-stage', { type: 'string', describe: 'ZeRO stage, or a list (0,1,2,3); default: the config\'s' })
      .option('zero', { type: 'string', describe: 'JSON merged into the config\'s zero_optimization block (e.g. stage3_param_persistence_threshold)' })
      .option('num_procs', { type: 'number', describe: 'ranks (default 1; with --tp/--pp: tp × pp, one data-parallel replica)' })
      .option('tp', { type: 'number', describe: 'tensor-parallel ranks (tensor_parallel.autotp_size): a 3D layout row beside its 1-stage, tp-1 baseline' })
      .option('pp', { type: 'number', describe: 'pipeline stages (pipeline.stages)' })
      .option('micro-batches', { type: 'number', describe: 'micro-batches per step (gradient_accumulation_steps; default the config\'s, 4 × pp with --pp)' })
      .option('offload', { type: 'boolean', default: false, describe: 'offload_optimizer device cpu: Adam on host worker threads (stages 1-3)' })
      .option('steps', { type: 'number', describe: 'timed steps (default 3; a OneBitAdam config: train.steps, the whole run)' })
      .option('warmup', { type: 'number', default: 1 })
      .option('master_port', { type: 'number', default: 29610 })
      .option('compare-torch', { type: 'boolean', default: false, describe: 'also train the same model, batch and AdamW in PyTorch eager (/usr/bin/python3 with torch) and print the ratio' })
      .option('compare-wasm', { type: 'boolean', default: false, describe: 'also run each stage with DS_NATIVE=0 (tfjs-wasm matmuls, the baseline) and print the ratio' })
      .option('rounds', { type: 'number', default: 1, describe: 'with --compare-torch: run deepscale\'s first row and PyTorch alternately this many times, keeping each one\'s fastest (a shared machine\'s load drifts between runs)' })
      .option('json', { type: 'boolean', default: false }) as never,
  handler: async (argv) => {
    const stages = argv['zero-stage'] === undefined ? [null] : argv['zero-stage'].split(',').map((s) => {
      const n = Number(s.trim());
      if (!Number.isInteger(n) || n < 0 || n > 3) throw new InputError(`ds bench train: --zero-stage takes stages 0-3 (a list like 0,1,2,3), got "${s}"`);
      return n;
    });
    for (const k of ['num_procs', 'tp', 'pp', 'micro-batches', 'rounds'] as const) {
      const v = argv[k];
      if (v !== undefined && (!Number.isInteger(v) || v < 1)) throw new InputError(`ds bench train: --${k} must be a positive integer, got ${v}`);
    }
    if (argv.rounds !== 1 && !argv['compare-torch']) throw new InputError(`ds bench train: --rounds ${argv.rounds} alternates deepscale and PyTorch: it needs --compare-torch`);
    if (argv.rounds !== 1 && (argv.tp !== undefined || argv.pp !== undefined)) throw new InputError('ds bench train: --rounds alternates the ZeRO rows with PyTorch; a --tp/--pp layout bench takes no --rounds');
    if ((argv['compare-torch'] || argv['compare-wasm']) && (argv.tp !== undefined || argv.pp !== undefined))
      throw new InputError(`ds bench train: --${argv['compare-torch'] ? 'compare-torch' : 'compare-wasm'} is not built for a --tp/--pp layout bench (it compares the layout with its own 1-rank baseline); run it without --tp/--pp`);
    if (argv.tp !== undefined || argv.pp !== undefined) {
      await layoutBench(argv, stages[0] ?? null);
      return;
    }
    const onebit = oneBitPlan(argv.config, argv.steps);
    if (onebit) {
      const run = { task: true, steps: onebit.steps, warmup: 0 };
      const adam = await runStage(argv, stages[0] ?? null, argv.master_port, { ...run, optimizer: onebit.adam });
      const oneBitRow = await runStage(argv, stages[0] ?? null, argv.master_port + 1, run);
      const summary = summarizeOneBit(onebit, oneBitRow, adam);
      const strip = ({ per_step: _p, ...r }: Row) => r;
      if (argv.json) process.stdout.write(`${JSON.stringify({ config: argv.config, num_procs: argv.num_procs ?? 1, onebit: summary, rows: [strip(oneBitRow), strip(adam)] })}\n`);
      else process.stdout.write(formatOneBit(argv.config, argv.num_procs ?? 1, summary));
      return;
    }
    const rows: Row[] = [];
    for (const [i, stage] of stages.entries()) rows.push(await runStage(argv, stage, argv.master_port + i));
    const extras = await speedComparisons(argv, stages, rows);
    if (argv.json) {
      process.stdout.write(`${JSON.stringify({ config: argv.config, num_procs: argv.num_procs ?? 1, rows, ...extras.json })}\n`);
      return;
    }
    const base = rows[0]!.step_ms;
    const psi = rows[0]!.memory.numel;
    process.stdout.write(`${argv.config}: Ψ = ${psi} parameters, ${argv.num_procs ?? 1} rank(s), backend ${rows[0]!.backend}; per-rank MiB as allocated; ${argv.steps ?? 3} timed steps after ${argv.warmup} warm-up\n`);
    process.stdout.write(`${formatTable(
      ['stage', 'step ms', 'vs first', 'tokens/s', 'fwd ms', 'bwd ms', 'boundary ms', 'params MiB', 'grads MiB', 'optim MiB', 'states MiB', 'bytes/Ψ', 'buffers MiB', 'comm MiB/step', 'final loss'],
      rows.map((r) => {
        const m = r.memory;
        const states = m.params + m.grads + m.optimizer;
        return [r.stage, r.step_ms.toFixed(0), `${(r.step_ms / base).toFixed(2)}×`, r.tokens_per_s.toFixed(0), r.forward_ms.toFixed(0), r.backward_ms.toFixed(0), r.boundary_ms.toFixed(0),
          mib(m.params), mib(m.grads), mib(m.optimizer), mib(states), (states / m.numel).toFixed(2), mib(m.buffers), mib(r.comm_bytes_per_step), r.final_loss.toFixed(4)];
      }),
    )}\n`);
    process.stdout.write(`${extras.text}\n`);
  },
};

/**
 * PyTorch's runs (--compare-torch); with --rounds N, N − 1 more rounds of deepscale's first row and
 * PyTorch alternately, each side keeping its fastest (rows[0] is replaced by a faster rerun).
 */
async function torchRounds(argv: Args, stages: (number | null)[], rows: Row[]): Promise<TorchResult[]> {
  let torch = await runTorchPeers(argv.config, argv.steps ?? 3, argv.warmup);
  for (let r = 1; r < argv.rounds; r++) {
    const again = await runStage(argv, stages[0] ?? null, argv.master_port + 2 * stages.length + r);
    if (again.tokens_per_s > rows[0]!.tokens_per_s) rows[0] = again;
    torch = fasterTorch(torch, await runTorchPeers(argv.config, argv.steps ?? 3, argv.warmup));
  }
  return torch;
}

/**
 * MFU against the machine (train_peak.ts), and the runs asked for next to these rows, back to back
 * in this invocation: the wasm-matmul baseline (--compare-wasm) and PyTorch (--compare-torch).
 */
async function speedComparisons(argv: Args, stages: (number | null)[], rows: Row[]): Promise<{ text: string; json: Record<string, unknown> }> {
  const peak = await machinePeak();
  const torch = argv['compare-torch'] ? await torchRounds(argv, stages, rows) : null;
  const lines = [`load average ${os.loadavg().map((l) => l.toFixed(1)).join(' ')} on ${os.availableParallelism()} CPUs (figures are ratios within this run)`, formatMfu(peak, rows)];
  const json: Record<string, unknown> = { peak };
  if (argv['compare-wasm']) {
    const wasm: Row[] = [];
    for (const [i, stage] of stages.entries()) wasm.push(await runStage(argv, stage, argv.master_port + stages.length + i, {}, { DS_NATIVE: '0' }));
    json.wasm_rows = wasm;
    lines.push(...wasm.map((w, i) => `stage ${w.stage}: DS_NATIVE=0 (tfjs-wasm matmuls) ${w.tokens_per_s.toFixed(0)} tokens/s; native is ${(rows[i]!.tokens_per_s / w.tokens_per_s).toFixed(2)}× that`));
  }
  if (torch) {
    if (argv.rounds > 1) lines.push(`deepscale's first row and PyTorch: the fastest of ${argv.rounds} alternating rounds of each`);
    json.torch = torch;
    lines.push(formatTorch(torch, rows));
  }
  return { text: lines.join('\n'), json };
}
