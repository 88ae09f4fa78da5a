/**
 * `ds bench train --config C` where C's optimizer is OneBitAdam: two whole runs on the config's
 * built-in task, the config as written and the same config with Adam (the onebit keys dropped),
 * and what 1-bit Adam is for, from rank 0's per-step byte counters:
 *
 *   wire bytes per step   warm-up (the float32 gradient all-reduce) vs compressed phase, ratio
 *   total bytes           the whole 1-bit run (its warm-up included) vs the whole Adam run
 *   step time             compressed-phase steps vs the same steps of the Adam run
 *   loss                  mean training loss of the last 10% of steps, and a held-out loss
 */
import { readFileSync } from 'node:fs';
import JSON5 from 'json5';
import { InputError } from '../../../errors.ts';
import { formatTable } from '../../table.ts';

/** What the rank script reports per timed step (train_rank.ts per_step). */
export interface PerStep { comm_bytes: number[]; step_ms: number[]; loss: number[] }
export interface OneBitRun { step_ms: number; per_step: PerStep; held_out_loss: number | null; memory: { numel: number } }

export interface OneBitPlan {
  readonly freezeStep: number;
  readonly steps: number;
  /** The baseline's optimizer block: type Adam, the same params without the onebit keys. */
  readonly adam: Record<string, unknown>;
}

const ONEBIT_KEYS = ['freeze_step', 'cuda_aware', 'comm_backend_name'];

/** The plan when the config's optimizer is OneBitAdam (null otherwise); steps: --steps, else train.steps. */
export function oneBitPlan(configPath: string, stepsFlag: number | undefined): OneBitPlan | null {
  const raw = JSON5.parse(readFileSync(configPath, 'utf8')) as { optimizer?: { type?: string; params?: Record<string, unknown> }; train?: { steps?: number } };
  if (typeof raw.optimizer?.type !== 'string' || raw.optimizer.type.toLowerCase() !== 'onebitadam') return null;
  const params = { ...(raw.optimizer.params ?? {}) };
  const freezeStep = typeof params.freeze_step === 'number' ? params.freeze_step : 100000;
  const steps = stepsFlag ?? raw.train?.steps;
  if (steps === undefined) throw new InputError(`ds bench train: ${configPath} uses OneBitAdam: give --steps or train.steps (a whole run is compared with Adam)`);
  if (steps <= freezeStep) throw new InputError(`ds bench train: ${steps} steps never leave the warm-up (optimizer.params.freeze_step ${freezeStep}); give more --steps`);
  for (const k of ONEBIT_KEYS) delete params[k];
  return { freezeStep, steps, adam: { type: 'Adam', params } };
}

const sum = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0);
const mean = (xs: readonly number[]): number => (xs.length ? sum(xs) / xs.length : NaN);
const rel = (a: number, b: number): number => (a - b) / b;

export interface OneBitSummary {
  freeze_step: number;
  steps: number;
  warmup_fraction: number;
  parameters: number;
  /** Rank 0's bytes sent per step (frame headers and the engine's scalar sums included). */
  wire_bytes_per_step: { warmup_fp32_allreduce: number; compressed: number; ratio: number; adam: number };
  total_bytes: { onebit: number; adam: number; ratio: number };
  step_ms: { onebit_compressed: number; adam_same_steps: number; ratio: number };
  final_loss: { onebit: number; adam: number; rel_diff: number; over_last_steps: number };
  held_out_loss: { onebit: number | null; adam: number | null; rel_diff: number | null };
}

/** Steps 1..F are warm-up (per_step[0, F)), the rest compressed; step 1 is left out of the times (first-call costs). */
export function summarizeOneBit(plan: OneBitPlan, onebit: OneBitRun, adam: OneBitRun): OneBitSummary {
  const F = plan.freezeStep;
  const o = onebit.per_step;
  const a = adam.per_step;
  const warm = mean(o.comm_bytes.slice(1, F));
  const comp = mean(o.comm_bytes.slice(F));
  const tail = Math.max(1, Math.floor(plan.steps / 10));
  const lossO = mean(o.loss.slice(-tail));
  const lossA = mean(a.loss.slice(-tail));
  const hO = onebit.held_out_loss;
  const hA = adam.held_out_loss;
  return {
    freeze_step: F,
    steps: plan.steps,
    warmup_fraction: F / plan.steps,
    parameters: onebit.memory.numel,
    wire_bytes_per_step: { warmup_fp32_allreduce: warm, compressed: comp, ratio: warm / comp, adam: mean(a.comm_bytes.slice(1)) },
    total_bytes: { onebit: sum(o.comm_bytes), adam: sum(a.comm_bytes), ratio: sum(a.comm_bytes) / sum(o.comm_bytes) },
    step_ms: { onebit_compressed: mean(o.step_ms.slice(F)), adam_same_steps: mean(a.step_ms.slice(F)), ratio: mean(o.step_ms.slice(F)) / mean(a.step_ms.slice(F)) },
    final_loss: { onebit: lossO, adam: lossA, rel_diff: rel(lossO, lossA), over_last_steps: tail },
    held_out_loss: { onebit: hO, adam: hA, rel_diff: hO !== null && hA !== null ? rel(hO, hA) : null },
  };
}

export function formatOneBit(configPath: string, numProcs: number, s: OneBitSummary): string {
  const kib = (b: number): string => (b / 1024).toFixed(1);
  const pct = (x: number | null): string => (x === null ? '-' : `${x >= 0 ? '+' : ''}${(100 * x).toFixed(2)}%`);
  const head = `${configPath}: OneBitAdam vs Adam, Ψ = ${s.parameters} parameters, ${numProcs} ranks, ${s.steps} steps, freeze_step ${s.freeze_step} (${(100 * s.warmup_fraction).toFixed(0)}% warm-up); rank 0's bytes sent\n`;
  return head + formatTable(['measure', 'OneBitAdam', 'Adam', 'ratio / diff'], [
    ['wire KiB/step, warm-up (fp32 all-reduce)', kib(s.wire_bytes_per_step.warmup_fp32_allreduce), kib(s.wire_bytes_per_step.adam), '-'],
    ['wire KiB/step, compressed phase', kib(s.wire_bytes_per_step.compressed), kib(s.wire_bytes_per_step.adam), `${s.wire_bytes_per_step.ratio.toFixed(1)}× fewer than warm-up`],
    ['wire KiB, whole run', kib(s.total_bytes.onebit), kib(s.total_bytes.adam), `${s.total_bytes.ratio.toFixed(2)}× fewer`],
    ['step ms, compressed phase', s.step_ms.onebit_compressed.toFixed(1), s.step_ms.adam_same_steps.toFixed(1), `${s.step_ms.ratio.toFixed(2)}×`],
    [`train loss, mean of last ${s.final_loss.over_last_steps} steps`, s.final_loss.onebit.toFixed(4), s.final_loss.adam.toFixed(4), pct(s.final_loss.rel_diff)],
    ['held-out loss (16 batches)', s.held_out_loss.onebit?.toFixed(4) ?? '-', s.held_out_loss.adam?.toFixed(4) ?? '-', pct(s.held_out_loss.rel_diff)],
  ]) + '\n';
}
