/**
 * One rank of `ds bench train`, started by ds-launch: the config goes through initialize() as a
 * user's run does (so the ZeRO stage, the process group and the buckets are the real ones),
 * trains on random tokens (or, with `task`, on the config's built-in task) and prints rank 0's
 * measurements as one JSON line, with every timed step's bytes, time and loss in per_step.
 *   argv[2]: JSON { config, stage, zero (merged into zero_optimization), offload, steps, warmup,
 *                   optimizer? (replaces the config's block), task? }
 */
import { readFileSync } from 'node:fs';
import JSON5 from 'json5';
import { initialize } from '../../../runtime/initialize.ts';
import { modelConfigFromDs } from '../../../runtime/config/index.ts';
import { trainFlopsPerToken } from '../../../runtime/engine/flops.ts';
import type { MicroBatch } from '../../../runtime/engine/executor.ts';
import { Rng } from '../../../data/rng.ts';
import { taskData, taskVocab } from './task_data.ts';

export interface RankArgs {
  config: string; stage: number | null; zero: Record<string, unknown>; offload: boolean; steps: number; warmup: number;
  optimizer?: Record<string, unknown>; task?: boolean;
  /** Tensor-parallel ranks, pipeline stages and micro-batches per step (gradient_accumulation_steps); absent: the config's. */
  tp?: number; pp?: number; microBatches?: number;
}

const args = JSON.parse(process.argv[2]!) as RankArgs;
const raw = JSON5.parse(readFileSync(args.config, 'utf8')) as Record<string, unknown> & { data?: { seq_len?: number }; zero_optimization?: Record<string, unknown> };
const zero = { ...(raw.zero_optimization ?? {}), ...args.zero };
if (args.stage !== null) zero.stage = args.stage;
if (args.offload) zero.offload_optimizer = { device: 'cpu' };
const seqLen = raw.data?.seq_len ?? 128;
const optimizer = args.optimizer ?? raw.optimizer;
// Random tokens stand in for the data; the global batch follows the world size. On the task the
// config's global batch and data stand, and the run writes no checkpoints or monitor logs.
const { data: _data, train_batch_size: _tbs, ...rest0 } = raw;
const rest = {
  ...rest0,
  ...(args.tp !== undefined ? { tensor_parallel: { autotp_size: args.tp } } : {}),
  ...(args.pp !== undefined ? { pipeline: { ...(raw.pipeline as object | undefined), stages: args.pp } } : {}),
  ...(args.microBatches !== undefined ? { gradient_accumulation_steps: args.microBatches } : {}),
};
const rt = args.task
  ? await initialize({
    config: { ...raw, optimizer, zero_optimization: zero, csv_monitor: { enabled: false }, tensorboard: { enabled: false }, train: { steps: args.warmup + args.steps } },
    model: (cfg) => modelConfigFromDs(cfg, taskVocab.vocabSize, taskVocab.special),
  })
  : await initialize({ config: { ...rest, optimizer, zero_optimization: zero }, model: (cfg) => modelConfigFromDs(cfg, cfg.model?.vocab_size ?? 258, { bos: null, eos: null }) });
const { engine, config, dist } = rt;
const B = config.train_micro_batch_size_per_gpu;
const V = engine.model.config.vocabSize;
// Ranks of one pipe and one tp group read the same batches: the data-parallel replica's.
const rng = new Rng(config.seed + 1000 * rt.dataParallel.rank);
const task = args.task ? taskData(config, rt.dataParallel.rank, rt.dataParallel.size) : null;
const next = task ? task.next : (): MicroBatch => {
  const ids = Int32Array.from({ length: B * seqLen + 1 }, () => rng.int(V));
  return { batchSize: B, seqLen, input: ids.subarray(0, B * seqLen), target: ids.subarray(1), mask: new Float32Array(B * seqLen).fill(1) };
};
for (let i = 0; i < args.warmup; i++) await engine.trainBatch(next);
const sent0 = rt.grid.sentBytes();
let idleMs = 0;
const t0 = performance.now();
let commBytes = 0;
let loss = 0;
const sums = { forwardMs: 0, backwardMs: 0, commMs: 0, optimizerMs: 0 };
const perStep = { comm_bytes: [] as number[], step_ms: [] as number[], loss: [] as number[] };
for (let i = 0; i < args.steps; i++) {
  const s0 = performance.now();
  const r = await engine.trainBatch(next);
  perStep.step_ms.push(performance.now() - s0);
  perStep.comm_bytes.push(r.commBytes);
  perStep.loss.push(r.loss);
  commBytes += r.commBytes;
  idleMs += r.timings.pipelineIdleMs ?? 0;
  loss = r.loss;
  for (const k of Object.keys(sums) as (keyof typeof sums)[]) sums[k] += r.timings[k];
}
const stepMs = (performance.now() - t0) / args.steps;
const sent1 = rt.grid.sentBytes();
const tokensPerStep = B * seqLen * config.gradient_accumulation_steps * rt.dataParallel.size;
const per = (x: number): number => x / args.steps;
const heldOut = task ? await task.heldOutLoss(engine, 16) : null; // every rank takes part
if (dist.rank === 0) {
  process.stdout.write(`${JSON.stringify({
    stage: config.zero_optimization.stage,
    world_size: dist.worldSize,
    backend: rt.backend.name,
    step_ms: stepMs,
    tokens_per_s: tokensPerStep / (stepMs / 1000),
    model_gflops: (tokensPerStep / (stepMs / 1000)) * trainFlopsPerToken(engine.model.config, seqLen) / 1e9,
    forward_ms: per(sums.forwardMs),
    backward_ms: per(sums.backwardMs),
    boundary_ms: per(sums.commMs + sums.optimizerMs),
    comm_bytes_per_step: commBytes / args.steps,
    layout: { dp: rt.grid.dp, tp: rt.grid.tp, pp: rt.grid.pp, micro_batches: config.gradient_accumulation_steps },
    // Rank 0's view: stage 0, tp rank 0. Idle: time waiting on the neighbouring stages' activations and gradients.
    pipeline_idle_ms: per(idleMs),
    sent_bytes_per_step: { data: per(sent1.data - sent0.data), model: per(sent1.model - sent0.model), pipe: per(sent1.pipe - sent0.pipe) },
    memory: engine.memoryReport(),
    final_loss: loss,
    held_out_loss: heldOut,
    first_step: args.warmup + 1,
    per_step: perStep,
  })}\n`);
}
await rt.close();
