/**
 * What DeepSpeed's engine does around each step, so that a user's loop of trainBatch calls gets
 * it with no code of its own: the step line every steps_per_print, the progress bar (rank 0),
 * the csv and tensorboard monitors, the wall-clock breakdown, the memory breakdown and the flops
 * profiler at profile_step. Built by initialize() from the config's slices; told of each step.
 */
import * as tf from '@tensorflow/tfjs-core';
import { writeFileSync } from 'node:fs';
import type { StepResult } from '../engine/engine.ts';
import type { LayerProfile } from '../engine/profile.ts';
import { log } from '../logger.ts';
import { formatFlopsReport } from './flops_report.ts';
import { formatStepLine } from './format.ts';
import { MetricsLog } from './metrics_log.ts';
import { ProgressBar, type ProgressStream } from './progress.ts';
import { TensorBoardWriter } from './tensorboard/writer.ts';

interface MonitorSlice {
  readonly enabled: boolean;
  readonly output_path: string;
  readonly job_name: string;
}

export interface EngineMonitorConfig {
  readonly steps_per_print: number;
  readonly wall_clock_breakdown: boolean;
  readonly memory_breakdown: boolean;
  readonly csv_monitor: MonitorSlice;
  readonly tensorboard: MonitorSlice;
  readonly flops_profiler: {
    readonly enabled: boolean;
    readonly profile_step: number;
    readonly module_depth: number;
    readonly top_modules: number;
    readonly detailed: boolean;
    readonly output_file: string | null;
  };
}

export interface EngineMonitorContext {
  readonly rank: number;
  readonly worldSize: number;
  readonly dpSize: number;
  /** Tensor-parallel ranks, pipeline stages and this rank's stage, for the profiler's summary (default 1, 1, 0). */
  readonly tpSize?: number;
  readonly ppSize?: number;
  readonly stage?: number;
  /** Steps of the whole run, when known (train.steps or train.epochs): the progress bar's total. */
  readonly totalSteps: number | null;
  readonly startStep: number;
  /** Sequences per optimizer step over all ranks (train_batch_size): TensorBoard's x axis counts samples. */
  readonly samplesPerStep: number;
  /** Runs the profiled forward on the step's last micro-batch. */
  readonly profile: () => Promise<{ layers: LayerProfile[]; batchSize: number; seqLen: number }>;
  /** Extra lines for memory_breakdown (the engine's allocated bytes by kind). */
  readonly memory?: () => string;
  readonly progressStream?: ProgressStream;
}

export class EngineMonitor {
  private readonly cfg: EngineMonitorConfig;
  private readonly ctx: EngineMonitorContext;
  private readonly csv: MetricsLog | null;
  private readonly tb: TensorBoardWriter | null;
  private readonly bar: ProgressBar | null;
  private readonly t0 = performance.now();
  private tokens = 0;
  private window = { steps: 0, forwardMs: 0, backwardMs: 0, commMs: 0, optimizerMs: 0 };

  constructor(cfg: EngineMonitorConfig, ctx: EngineMonitorContext) {
    this.cfg = cfg;
    this.ctx = ctx;
    const rank0 = ctx.rank === 0;
    this.csv = MetricsLog.fromConfig(cfg.csv_monitor, ctx.rank);
    this.tb = rank0 && cfg.tensorboard.enabled ? new TensorBoardWriter({ outputPath: cfg.tensorboard.output_path, jobName: cfg.tensorboard.job_name }) : null;
    this.bar = rank0 && ctx.totalSteps !== null ? new ProgressBar({ total: ctx.totalSteps, startStep: ctx.startStep, stream: ctx.progressStream }) : null;
  }

  /** Paths of the files the monitors write (rank 0), for the user's log. */
  get files(): string[] {
    return [...Object.values(this.csv?.files ?? {}), ...(this.tb ? [this.tb.path] : [])];
  }

  async onStep(r: StepResult): Promise<void> {
    // Every rank's tokens count: the throughput is the job's.
    this.tokens += r.tokens * this.ctx.dpSize;
    const tokensPerSec = this.tokens / ((performance.now() - this.t0) / 1000);
    const t = r.timings;
    const w = this.window;
    w.steps++;
    w.forwardMs += t.forwardMs;
    w.backwardMs += t.backwardMs;
    w.commMs += t.commMs;
    w.optimizerMs += t.optimizerMs;

    this.bar?.update({ step: r.step, loss: r.loss, lr: r.lr, tokensPerSec });
    this.csv?.write({
      step: r.step, loss: r.loss, lr: r.lr, grad_norm: r.gradNorm, tokens_per_s: tokensPerSec,
      forward_ms: t.forwardMs, backward_ms: t.backwardMs, comm_ms: t.commMs, optimizer_ms: t.optimizerMs,
    });
    // DeepSpeed's tags (monitor/monitor.py: Train/Samples/…), with the samples seen as x, as DeepSpeed writes them.
    this.tb?.addScalars(r.step * this.ctx.samplesPerStep, { 'Train/Samples/train_loss': r.loss, 'Train/Samples/lr': r.lr, 'Train/Samples/grad_norm': r.gradNorm, 'Train/Samples/tokens_per_s': tokensPerSec });

    if (r.step % this.cfg.steps_per_print === 0) {
      log.info(formatStepLine({ step: r.step, total: this.ctx.totalSteps ?? undefined, loss: r.loss, lr: r.lr, tokensPerSec, gradNorm: r.gradNorm }));
      if (this.cfg.wall_clock_breakdown) {
        const n = w.steps;
        log.info(`time (ms, mean of ${n} step${n > 1 ? 's' : ''}) | fwd: ${(w.forwardMs / n).toFixed(2)} | bwd: ${(w.backwardMs / n).toFixed(2)} | comm: ${(w.commMs / n).toFixed(2)} | step: ${(w.optimizerMs / n).toFixed(2)}`);
      }
      if (this.cfg.memory_breakdown) log.info(this.memoryLine());
      this.window = { steps: 0, forwardMs: 0, backwardMs: 0, commMs: 0, optimizerMs: 0 };
    }

    const fp = this.cfg.flops_profiler;
    if (fp.enabled && r.step === fp.profile_step) {
      const p = await this.ctx.profile();
      if (this.ctx.rank === 0) {
        const text = formatFlopsReport(
          { step: r.step, worldSize: this.ctx.worldSize, dpSize: this.ctx.dpSize, mpSize: this.ctx.tpSize, ppSize: this.ctx.ppSize, stage: this.ctx.stage, batchSize: p.batchSize, seqLen: p.seqLen, layers: p.layers, bwdMs: t.backwardMs, stepMs: t.forwardMs + t.backwardMs + t.commMs + t.optimizerMs },
          { moduleDepth: fp.module_depth, topModules: fp.top_modules, detailed: fp.detailed },
        );
        if (fp.output_file) writeFileSync(fp.output_file, text + '\n');
        else log.info(text);
      }
    }
  }

  /** DeepSpeed's see_memory_usage: what this process holds, and what tfjs has allocated. */
  private memoryLine(): string {
    const m = process.memoryUsage();
    const mib = (b: number): string => `${(b / 2 ** 20).toFixed(1)} MiB`;
    const tfm = tf.memory();
    const parts = [`memory: rss ${mib(m.rss)}`, `heap ${mib(m.heapUsed)}`, `external+buffers ${mib(m.external + m.arrayBuffers)}`, `tfjs ${mib(tfm.numBytes)} in ${tfm.numTensors} tensors`];
    const extra = this.ctx.memory?.();
    return extra ? `${parts.join(' | ')} | ${extra}` : parts.join(' | ');
  }

  close(): void {
    this.bar?.finish();
    this.csv?.close();
    this.tb?.close();
  }
}
