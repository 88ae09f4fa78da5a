import { FormatError } from '../../../errors.ts';
import type { ModelConfig } from '../../../models/types.ts';
import type { GgufKv } from './writer.ts';
import type { GgufValue } from './reader.ts';

/**
 * llama.* hyperparameters ↔ ModelConfig. A GGUF llama is computed by llama.cpp with adjacent-pair
 * rope, so a config read from GGUF has ropeStyle 'adjacent' (weights are kept as stored).
 */
export function ggufToModelConfig(md: ReadonlyMap<string, GgufValue>, file: string, vocabFromTensors: number): ModelConfig {
  const arch = md.get('general.architecture');
  if (arch !== 'llama') throw new FormatError(file, `general.architecture ${JSON.stringify(arch)} is not supported (llama)`);
  const num = (key: string, fallback?: number): number => {
    const v = md.get(`llama.${key}`);
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(file, `llama.${key} is ${v === undefined ? 'missing' : JSON.stringify(v)}, expected a number`);
    return v;
  };
  const posInt = (key: string, fallback?: number): number => {
    const v = num(key, fallback);
    if (!Number.isSafeInteger(v) || v < 1) throw new FormatError(file, `llama.${key} is ${v}, expected a positive integer`);
    return v;
  };
  const scaling = md.get('llama.rope.scaling.type');
  if (scaling !== undefined && scaling !== 'none') throw new FormatError(file, `llama.rope.scaling.type ${JSON.stringify(scaling)} is not supported`);
  const hiddenSize = posInt('embedding_length');
  const numHeads = posInt('attention.head_count');
  const numKvHeads = posInt('attention.head_count_kv', numHeads);
  if (numHeads % numKvHeads !== 0) throw new FormatError(file, `llama.attention.head_count ${numHeads} is not a multiple of head_count_kv ${numKvHeads}`);
  const headDim = posInt('attention.key_length', Math.floor(hiddenSize / numHeads));
  const ropeDims = posInt('rope.dimension_count', headDim);
  if (ropeDims !== headDim) throw new FormatError(file, `llama.rope.dimension_count ${ropeDims} differs from the head dim ${headDim} (partial rope is not supported)`);
  const tok = md.get('tokenizer.ggml.tokens');
  const vocabSize = posInt('vocab_size', Array.isArray(tok) ? tok.length : vocabFromTensors);
  const id = (key: string): number | null => {
    const v = md.get(`tokenizer.ggml.${key}`);
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < vocabSize ? v : null;
  };
  return Object.freeze({
    vocabSize,
    hiddenSize,
    intermediateSize: posInt('feed_forward_length'),
    numLayers: posInt('block_count'),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: posInt('context_length'),
    rmsNormEps: num('attention.layer_norm_rms_epsilon'),
    ropeTheta: num('rope.freq_base', 10000),
    ropeStyle: 'adjacent' as const,
    tieWordEmbeddings: false, // decided by the loader: tied when output.weight is absent
    initStd: 0.02,
    bosTokenId: id('bos_token_id'),
    eosTokenId: id('eos_token_id'),
  });
}

/** The llama.* (and general.*) metadata entries that describe `config`. */
export function modelConfigToGguf(config: ModelConfig, name = 'deepscale'): Map<string, GgufKv> {
  const u32 = (value: number): GgufKv => ({ type: 'u32', value });
  const f32 = (value: number): GgufKv => ({ type: 'f32', value });
  return new Map<string, GgufKv>([
    ['general.architecture', { type: 'string', value: 'llama' }],
    ['general.name', { type: 'string', value: name }],
    ['general.alignment', u32(32)],
    ['llama.context_length', u32(config.maxPositionEmbeddings)],
    ['llama.embedding_length', u32(config.hiddenSize)],
    ['llama.block_count', u32(config.numLayers)],
    ['llama.feed_forward_length', u32(config.intermediateSize)],
    ['llama.attention.head_count', u32(config.numHeads)],
    ['llama.attention.head_count_kv', u32(config.numKvHeads)],
    ['llama.attention.key_length', u32(config.headDim)],
    ['llama.attention.value_length', u32(config.headDim)],
    ['llama.attention.layer_norm_rms_epsilon', f32(config.rmsNormEps)],
    ['llama.rope.freq_base', f32(config.ropeTheta)],
    ['llama.rope.dimension_count', u32(config.headDim)],
    ['llama.vocab_size', u32(config.vocabSize)],
  ]);
}
