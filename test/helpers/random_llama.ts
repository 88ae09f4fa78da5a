/** Small random Llama models and a byte-level tokenizer for loader tests. */
import type { ModelConfig } from '../../src/models/types.ts';
import type { HostTensor } from '../../src/inference/loaders/types.ts';
import { expectedLlamaShapes } from '../../src/inference/loaders/check_weights.ts';
import { byteToChar } from '../../src/data/tokenizer/bytes.ts';
import { Rng } from '../../src/data/rng.ts';

/** Deterministic uniform and normal samples (the project's seeded Rng). */
export function rng(seed: number): { uniform(): number; normal(): number } {
  const r = new Rng(seed);
  return { uniform: () => r.next(), normal: () => r.normal() };
}

export function tinyConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    vocabSize: 300, hiddenSize: 64, intermediateSize: 128, numLayers: 2, numHeads: 4, numKvHeads: 2, headDim: 16,
    maxPositionEmbeddings: 128, rmsNormEps: 1e-5, ropeTheta: 10000, ropeStyle: 'half', tieWordEmbeddings: false,
    initStd: 0.02, bosTokenId: 256, eosTokenId: 257, ...over,
  };
}

/** Random weights of every expected shape; norms near 1, linear weights N(0, 1/sqrt(in)). */
export function randomWeights(config: ModelConfig, seed = 1): Map<string, HostTensor> {
  const r = rng(seed);
  const weights = new Map<string, HostTensor>();
  for (const [name, shape] of expectedLlamaShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const isNorm = shape.length === 1 && name.endsWith('.weight');
    // biases N(0, 0.5): large enough that a runner ignoring one would give other logits
    const std = name.includes('embed') ? 1 : name.endsWith('.bias') ? 0.5 : 1 / Math.sqrt(shape[1] ?? 1);
    for (let i = 0; i < n; i++) data[i] = isNorm ? 1 + 0.1 * r.normal() : std * r.normal();
    weights.set(name, { shape, data });
  }
  return weights;
}

/**
 * A byte-level BPE vocabulary: the 256 byte symbols, a few merges, then <|bos|> <|eos|> and
 * filler tokens up to `vocabSize`. Types follow GGUF (1 normal, 3 control).
 */
export function tinyBpeVocab(vocabSize = 300): { tokens: string[]; types: number[]; merges: [string, string][] } {
  const tokens: string[] = [];
  for (let b = 0; b < 256; b++) tokens.push(byteToChar(b));
  const types = new Array<number>(256).fill(1);
  tokens.push('<|bos|>', '<|eos|>');
  types.push(3, 3);
  const merges: [string, string][] = [];
  for (const [a, b] of [['h', 'e'], ['l', 'l'], ['he', 'll'], [byteToChar(32), 'w'], ['o', 'r'], ['hell', 'o']] as const) {
    merges.push([a, b]);
    tokens.push(a + b);
    types.push(1);
  }
  while (tokens.length < vocabSize) {
    tokens.push(`<|extra_${tokens.length}|>`);
    types.push(4);
  }
  return { tokens, types, merges };
}
