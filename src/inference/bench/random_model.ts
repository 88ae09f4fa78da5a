import type { ModelConfig } from '../../models/types.ts';
import { Rng } from '../../data/rng.ts';
import { byteToChar } from '../../data/tokenizer/bytes.ts';
import { expectedLlamaShapes } from '../loaders/check_weights.ts';
import { writeLlamaGguf } from '../loaders/gguf/export.ts';
import { gpt2TokenizerKv } from '../loaders/gguf/tokenizer_kv.ts';
import type { HostTensor } from '../loaders/types.ts';
import type { GgufWriteType } from '../loaders/gguf/writer.ts';

/** llama.cpp's reference shape for its decode figures: d_model 256, 4 layers, 8 heads, ff 688, vocab 258. */
export function benchModelConfig(over: Partial<ModelConfig> = {}): ModelConfig {
  return {
    vocabSize: 258, hiddenSize: 256, intermediateSize: 688, numLayers: 4, numHeads: 8, numKvHeads: 8, headDim: 32,
    maxPositionEmbeddings: 2048, rmsNormEps: 1e-5, ropeTheta: 10000, ropeStyle: 'half', tieWordEmbeddings: false,
    initStd: 0.02, bosTokenId: 256, eosTokenId: 257, ...over,
  };
}

/**
 * Writes a llama GGUF of `config` with seeded random weights (norms ≈ 1, linear N(0, 1/in))
 * and a byte-level vocabulary: the 256 bytes, <|bos|>, <|eos|>, then fillers up to vocabSize.
 * `type`: the 2-D weights' type (norms stay F32).
 */
export function writeRandomGguf(path: string, config: ModelConfig, seed = 0, type: GgufWriteType = 'F32'): void {
  const rng = new Rng(seed);
  const weights = new Map<string, HostTensor>();
  for (const [name, shape] of expectedLlamaShapes(config)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const data = new Float32Array(n);
    const std = shape.length === 1 ? 0.1 : name.includes('embed') ? 1 : 1 / Math.sqrt(shape[1]!);
    for (let i = 0; i < n; i++) data[i] = (shape.length === 1 ? 1 : 0) + std * rng.normal();
    weights.set(name, { shape, data });
  }
  const tokens: string[] = [];
  const types: number[] = [];
  for (let b = 0; b < 256; b++) tokens.push(byteToChar(b)), types.push(1);
  tokens.push('<|bos|>', '<|eos|>');
  types.push(3, 3);
  while (tokens.length < config.vocabSize) tokens.push(`<|extra_${tokens.length}|>`), types.push(4);
  const tokenizer = gpt2TokenizerKv(tokens, types, [], { bos: 256, eos: 257 });
  writeLlamaGguf(path, { config, weights, tokenizer, type, name: 'random-llama' });
}
