/**
 * One rank of `ds bench train`, started by ds-launch: the config goes through initialize() as a
 * user's run does (so the ZeRO stage, the process group and the buckets are the real ones),
 * trains on random tokens and prints rank 0's measurements as one JSON line.
 *   argv[2]: JSON { config, stage, zero (merged into zero_optimization), offload, steps, warmup }
 */
import { readFileSync } from 'node:fs';
import JSON5 from 'json5';
import { initialize } from '../../../runtime/initialize.ts';
import { modelConfigFromDs } from '../../../runtime/config/index.ts';
import { trainFlopsPerToken } from '../../../runtime/engine/flops.ts';
import type { MicroBatch } from '../../../runtime/engine/executor.ts';
import { Rng } from '../../../data/rng.ts';

export interface RankArgs { config: string; stage: number | null; zero: Record<string, unknown>; offload: boolean; steps: number; warmup: number }

const args = JSON.parse(process.argv[2]!) as RankArgs;
const raw = JSON5.parse(readFileSync(args.config, 'utf8')) as Record<string, unknown> & { data?: { seq_len?: number }; zero_optimization?: Record<string, unknown> };
const zero = { ...(raw.zero_optimization ?? {}), ...args.zero };
if (args.stage !== null) zero.stage = args.stage;
if (args.offload) zero.offload_optimizer = { device: 'cpu' };
const seqLen = raw.data?.seq_len ?? 128;
// Random tokens stand in for the data; the global batch follows the world size.
const { data: _data, train_batch_size: _tbs, ...rest } = raw;
const rt = await initialize({ config: { ...rest, zero_optimization: zero }, model: (cfg) => modelConfigFromDs(cfg, cfg.model?.vocab_size ?? 258, { bos: null, eos: null }) });
const { engine, config, dist } = rt;
const B = config.train_micro_batch_size_per_gpu;
const V = engine.model.config.vocabSize;
const rng = new Rng(config.seed + 1000 * dist.rank);
const next = (): MicroBatch => {
  const ids = Int32Array.from({ length: B * seqLen + 1 }, () => rng.int(V));
  return { batchSize: B, seqLen, input: ids.subarray(0, B * seqLen), target: ids.subarray(1), mask: new Float32Array(B * seqLen).fill(1) };
};
for (let i = 0; i < args.warmup; i++) await engine.trainBatch(next);
const t0 = performance.now();
let commBytes = 0;
let loss = 0;
const sums = { forwardMs: 0, backwardMs: 0, commMs: 0, optimizerMs: 0 };
for (let i = 0; i < args.steps; i++) {
  const r = await engine.trainBatch(next);
  commBytes += r.commBytes;
  loss = r.loss;
  for (const k of Object.keys(sums) as (keyof typeof sums)[]) sums[k] += r.timings[k];
}
const stepMs = (performance.now() - t0) / args.steps;
const tokensPerStep = B * seqLen * config.gradient_accumulation_steps * dist.worldSize;
const per = (x: number): number => x / args.steps;
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
    memory: engine.memoryReport(),
    final_loss: loss,
  })}\n`);
}
await rt.close();
