/**
 * ZeRO test harness: N ranks in this process, each through initialize() exactly as a user's
 * script (env RANK/WORLD_SIZE/MASTER_*), over the TCP ring on 127.0.0.1. tfjs traces
 * synchronously and the ranks meet only at collectives, so they interleave on one event loop.
 */
import { initialize, type TrainingRuntime } from '../../src/runtime/initialize.ts';
import { AdditionTask, taskBatches, taskTokenizer } from '../../src/data/index.ts';
import type { ModelConfig } from '../../src/models/types.ts';
import type { StepResult } from '../../src/runtime/engine/engine.ts';
import { freePort } from '../runtime/comm/helpers.ts';

const tok = taskTokenizer();

export const TINY: ModelConfig = {
  vocabSize: tok.vocabSize, hiddenSize: 16, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 24, maxPositionEmbeddings: 16,
  initStd: 0.02, rmsNormEps: 1e-5, ropeTheta: 10000, ropeStyle: 'half', tieWordEmbeddings: false, headDim: 4, bosTokenId: 1, eosTokenId: 2,
};

/** A config: a global batch of `global` sequences, accumulation `gas`, clipping on, AdamW with warm-up; `zero` is the zero_optimization block. */
export function zeroConfig(worldSize: number, gas: number, zero: Record<string, unknown>, extra: Record<string, unknown> = {}, global = 8): Record<string, unknown> {
  return {
    train_batch_size: global,
    train_micro_batch_size_per_gpu: global / worldSize / gas,
    gradient_accumulation_steps: gas,
    optimizer: { type: 'AdamW', params: { lr: 1e-2, weight_decay: 0.01 } },
    scheduler: { type: 'WarmupLR', params: { warmup_max_lr: 1e-2, warmup_num_steps: 3, warmup_type: 'linear' } },
    gradient_clipping: 0.5,
    seed: 7,
    comm_timeout_s: 30,
    backend: 'cpu',
    zero_optimization: zero,
    ...extra,
  };
}

/** Starts `worldSize` ranks with the same config; resolves with every rank's runtime. */
export async function startRanks(worldSize: number, config: Record<string, unknown>, model: ModelConfig = TINY): Promise<TrainingRuntime[]> {
  const port = await freePort();
  return Promise.all(Array.from({ length: worldSize }, (_, rank) => initialize({
    config,
    model,
    env: { RANK: String(rank), WORLD_SIZE: String(worldSize), LOCAL_RANK: String(rank), MASTER_ADDR: '127.0.0.1', MASTER_PORT: String(port), DS_LOG_LEVEL: 'warn' },
  })));
}

/** Each rank's batch stream: the addition task, sharded by rank (the fixture of the data-parallel tests). */
export function batchStream(rt: TrainingRuntime, skipSteps = 0) {
  const micro = rt.config.train_micro_batch_size_per_gpu;
  const task = new AdditionTask({ digits: 2 });
  const seqLen = task.maxChars + 1;
  const it = taskBatches({ task, seqLen, batchSize: micro, seed: 3, rank: rt.dist.rank, worldSize: rt.dist.worldSize });
  for (let i = 0; i < skipSteps * rt.config.gradient_accumulation_steps; i++) it.next();
  return () => ({ ...it.next().value, batchSize: micro, seqLen });
}

/** Trains every rank `steps` steps; returns rank 0's step results. */
export async function trainAll(rts: TrainingRuntime[], steps: number, skipSteps = 0): Promise<StepResult[]> {
  const nexts = rts.map((rt) => batchStream(rt, skipSteps));
  const out: StepResult[] = [];
  for (let s = 0; s < steps; s++) {
    const rs = await Promise.all(rts.map((rt, k) => rt.engine.trainBatch(nexts[k]!)));
    out.push(rs[0]!);
  }
  return out;
}

export async function closeAll(rts: TrainingRuntime[]): Promise<void> {
  await Promise.all(rts.map((rt) => rt.close()));
}

/** Trains a fresh world and returns rank 0's losses. */
export async function lossCurve(worldSize: number, config: Record<string, unknown>, steps: number): Promise<number[]> {
  const rts = await startRanks(worldSize, config);
  try {
    return (await trainAll(rts, steps)).map((r) => r.loss);
  } finally {
    await closeAll(rts);
  }
}

export const relDiff = (a: readonly number[], b: readonly number[]): number => Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.abs(b[i]!)));
