/**
 * Real training checkpoints for the export tests: initialize() builds the engine, a few steps
 * train it on the addition task, engine.saveCheckpoint writes it (with meta.model_config and the
 * tokenizer files in the tag folder). initStd is large so that
 * greedy picks are far from ties (llama.cpp and tfjs round differently in the last bits).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { initialize, type TrainingRuntime } from '../../src/runtime/initialize.ts';
import { AdditionTask, taskBatches, taskTokenizer } from '../../src/data/index.ts';
import type { Tokenizer } from '../../src/data/tokenizer/types.ts';
import { makeModelConfig, type ModelConfigInput } from '../../src/models/config.ts';
import type { ModelConfig } from '../../src/models/types.ts';

export interface Checkpoint {
  readonly dir: string;
  readonly tag: string;
  readonly config: ModelConfig;
  readonly tokenizer: Tokenizer;
  readonly rt: TrainingRuntime;
  /** name → the engine's parameter values at save time (copies). */
  readonly params: Map<string, Float32Array>;
}

export function tmp(prefix: string): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** The tiny example's shape (character tokenizer, vocab 42), smaller. */
export function exportModelConfig(over: Partial<ModelConfigInput> = {}): ModelConfig {
  const tok = taskTokenizer();
  return makeModelConfig({
    vocabSize: tok.vocabSize, hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2,
    maxPositionEmbeddings: 32, initStd: 0.3, bosTokenId: tok.special.bos, eosTokenId: tok.special.eos, ...over,
  });
}

export async function trainedCheckpoint(
  dir: string,
  config: ModelConfig,
  opts: { steps?: number; tag?: string; fp16?: boolean; tokenizer?: Tokenizer | null } = {},
): Promise<Checkpoint> {
  const tokenizer = opts.tokenizer === undefined ? taskTokenizer() : opts.tokenizer;
  const rt = await initialize({
    config: {
      train_micro_batch_size_per_gpu: 8,
      optimizer: { type: 'Adam', params: { lr: 1e-3 } },
      seed: 5,
      ...(opts.fp16 ? { fp16: { enabled: true } } : {}),
    },
    model: config,
    ...(tokenizer ? { tokenizer } : {}),
    env: {},
  });
  const task = new AdditionTask({ digits: 2 });
  const seqLen = task.maxChars + 1;
  const it = taskBatches({ task, seqLen, batchSize: 8, seed: 3, rank: 0, worldSize: 1 });
  for (let s = 0; s < (opts.steps ?? 2); s++) await rt.engine.trainBatch(() => ({ ...it.next().value, batchSize: 8, seqLen }));
  const tag = opts.tag ?? 'final';
  // The engine writes meta.model_config and the tokenizer files into the tag folder itself.
  await rt.engine.saveCheckpoint(dir, tag);
  const params = new Map(rt.engine.flat.segments.map((s) => [s.name, rt.engine.flat.view(s.name).slice()]));
  return { dir, tag, config, tokenizer: tokenizer ?? taskTokenizer(), rt, params };
}

/** Equal bit for bit (NaN-safe, -0 ≠ +0). */
export function sameBits(a: Float32Array, b: Float32Array): boolean {
  if (a.length !== b.length) return false;
  return Buffer.from(a.buffer, a.byteOffset, a.byteLength).equals(Buffer.from(b.buffer, b.byteOffset, b.byteLength));
}

export const readJson = (path: string): unknown => JSON.parse(readFileSync(path, 'utf8'));
