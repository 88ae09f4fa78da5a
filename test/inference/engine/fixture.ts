/** A tiny random llama GGUF (byte-level vocabulary) written once per test file. */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchModelConfig, writeRandomGguf } from '../../../src/inference/bench/random_model.ts';
import { loadModel } from '../../../src/inference/loaders/index.ts';
import type { LoadedModel } from '../../../src/inference/loaders/types.ts';

export const tinyEngineConfig = benchModelConfig({ hiddenSize: 32, intermediateSize: 64, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 8, maxPositionEmbeddings: 48 });

export function tinyGguf(seed = 1): { path: string; model: LoadedModel; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'ds-engine-'));
  const path = join(dir, 'tiny.gguf');
  writeRandomGguf(path, tinyEngineConfig, seed);
  return { path, model: loadModel(path), cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}
