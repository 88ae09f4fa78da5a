import { KvWaste } from '../kv/waste.ts';
import type { LoadedModel } from '../loaders/types.ts';
import { makeSamplingParams } from '../sampler/params.ts';
import type { BatchingMode } from '../engine/config.ts';
import { LLMEngine } from '../engine/llm_engine.ts';
import type { RunnerFactory } from '../runner/types.ts';
import type { BenchRequest } from './workload.ts';

export interface ThroughputResult {
  readonly batching: BatchingMode;
  readonly numRequests: number;
  readonly outputTokens: number;
  readonly seconds: number;
  readonly outputTokPerS: number;
  /** Rows the model ran: prompts, decodes, and static batching's padding. */
  readonly computedTokens: number;
  readonly steps: number;
  /** Mean number of sequences per step. */
  readonly meanBatch: number;
  /** Worst (allocated − used) / allocated over all steps. */
  readonly peakKvWaste: number;
  /** Waste at the step with the most slots allocated (when memory is tightest). */
  readonly kvWasteAtPeakUsage: number;
  /** Over all steps, weighted by slots allocated. */
  readonly meanKvWaste: number;
}

export interface EngineShape {
  readonly maxNumSeqs: number;
  readonly kvCacheMemory: number | string;
  readonly blockSize?: number;
  readonly maxNumBatchedTokens?: number;
  readonly threads?: number;
}

/** Runs every request (all arrive at once, ignore_eos) to the end; times the whole run. */
export function runThroughput(model: LoadedModel, work: readonly BenchRequest[], batching: BatchingMode, shape: EngineShape): ThroughputResult {
  const engine = new LLMEngine(model, { ...shape, batching, enablePrefixCaching: false });
  work.forEach((r, i) => engine.addRequest(`r${i}`, r.promptTokenIds, makeSamplingParams({ temperature: 0, ignore_eos: true, max_tokens: r.maxTokens })));
  const waste = new KvWaste();
  let peakAllocated = -1;
  let wasteAtPeak = 0;
  let steps = 0;
  let seqSteps = 0;
  const t0 = performance.now();
  while (engine.hasUnfinished()) {
    engine.step();
    const s = waste.observe(engine.manager);
    if (s.allocatedSlots > peakAllocated) (peakAllocated = s.allocatedSlots), (wasteAtPeak = s.waste);
    steps++;
    seqSteps += engine.scheduler.numRunning;
  }
  const seconds = (performance.now() - t0) / 1000;
  const computedTokens = engine.computedTokens;
  engine.dispose();
  const outputTokens = work.reduce((n, r) => n + r.maxTokens, 0);
  return {
    batching, numRequests: work.length, outputTokens, seconds, outputTokPerS: outputTokens / seconds, computedTokens, steps, meanBatch: seqSteps / steps,
    peakKvWaste: waste.peak.waste, kvWasteAtPeakUsage: wasteAtPeak, meanKvWaste: waste.mean,
  };
}

export interface DecodeResult {
  readonly batch: number;
  readonly decodeTokens: number;
  readonly seconds: number;
  readonly tokPerS: number;
}

/** The engine config of a decode run: `batch` sequences of promptLen + newTokens, KV for all of them. */
function decodeConfig(model: LoadedModel, batch: number, promptLen: number, newTokens: number, seed: number, threads: number) {
  const c = model.config;
  const maxModelLen = promptLen + newTokens;
  const bytesPerToken = 2 * c.numLayers * c.numKvHeads * c.headDim * 4; // K and V, float32
  const kvCacheMemory = (batch + 1) * (maxModelLen + 16) * bytesPerToken;
  return { maxNumSeqs: batch, maxModelLen, kvCacheMemory, enablePrefixCaching: false, seed, threads };
}

/** `batch` requests of `promptLen` tokens, `newTokens` each; times only the steps after every prompt is prefilled. */
export function runDecode(model: LoadedModel, batch: number, promptLen: number, newTokens: number, seed = 0, threads = 1): DecodeResult {
  return timeDecode(new LLMEngine(model, decodeConfig(model, batch, promptLen, newTokens, seed, threads)), batch, promptLen, newTokens);
}

/** runDecode on the runner `makeRunner` makes (a device from chooseDevice). */
export async function runDecodeOn(makeRunner: RunnerFactory, model: LoadedModel, batch: number, promptLen: number, newTokens: number, seed = 0, threads = 1): Promise<DecodeResult> {
  return timeDecode(await LLMEngine.create(model, decodeConfig(model, batch, promptLen, newTokens, seed, threads), makeRunner), batch, promptLen, newTokens);
}

function timeDecode(engine: LLMEngine, batch: number, promptLen: number, newTokens: number): DecodeResult {
  const params = makeSamplingParams({ temperature: 0, ignore_eos: true, max_tokens: newTokens });
  for (let b = 0; b < batch; b++) engine.addRequest(`d${b}`, Array.from({ length: promptLen }, (_, i) => (b * 31 + i * 7) % 256), params);
  const produced = new Map<string, number>();
  // Prefill: until every request has its first token.
  while (produced.size < batch) for (const o of engine.step()) produced.set(o.requestId, o.outputs[0]!.tokenIds.length);
  const before = [...produced.values()].reduce((a, b) => a + b, 0);
  const t0 = performance.now();
  while (engine.hasUnfinished()) for (const o of engine.step()) produced.set(o.requestId, o.outputs[0]!.tokenIds.length);
  const seconds = (performance.now() - t0) / 1000;
  engine.dispose();
  const decodeTokens = [...produced.values()].reduce((a, b) => a + b, 0) - before;
  return { batch, decodeTokens, seconds, tokPerS: decodeTokens / seconds };
}

export interface PrefillResult {
  readonly promptTokens: number;
  readonly seconds: number;
  readonly tokPerS: number;
}

/**
 * Prompt tok/s at batch 1 (llama-bench's pp test): one prompt of `promptLen` tokens prefilled in
 * one step (the token budget holds it), timed to its first token; the best of `reps` after a warm-up.
 */
export function runPrefill(model: LoadedModel, promptLen: number, threads = 1, reps = 3): PrefillResult {
  const c = model.config;
  const maxModelLen = promptLen + 16;
  const kvCacheMemory = 2 * (maxModelLen + 16) * 2 * c.numLayers * c.numKvHeads * c.headDim * 4;
  const engine = new LLMEngine(model, { maxNumSeqs: 1, maxModelLen, maxNumBatchedTokens: promptLen, kvCacheMemory, enablePrefixCaching: false, threads });
  const params = makeSamplingParams({ temperature: 0, ignore_eos: true, max_tokens: 1 });
  const prompt = Array.from({ length: promptLen }, (_, i) => (i * 7 + 3) % Math.min(256, c.vocabSize));
  let best = Infinity;
  try {
    for (let r = 0; r <= reps; r++) {
      engine.addRequest(`p${r}`, prompt, params);
      const t0 = performance.now();
      while (engine.hasUnfinished()) engine.step();
      if (r > 0) best = Math.min(best, (performance.now() - t0) / 1000);
    }
  } finally {
    engine.dispose();
  }
  return { promptTokens: promptLen, seconds: best, tokPerS: promptLen / best };
}
