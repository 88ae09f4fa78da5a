import { FormatError } from '../../errors.ts';
import type { ModelConfig } from '../../models/types.ts';

/** HF Llama config.json ↔ ModelConfig. HF Llama applies rope by rotate-half: ropeStyle 'half'. */
export function hfConfigToModelConfig(json: unknown, file: string): ModelConfig {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FormatError(file, 'config.json is not a JSON object');
  const o = json as Record<string, unknown>;
  const arch = o['architectures'];
  if (!Array.isArray(arch) || arch[0] !== 'LlamaForCausalLM' || arch.length !== 1) {
    throw new FormatError(file, `architectures ${JSON.stringify(arch)} is not supported (["LlamaForCausalLM"])`);
  }
  if (o['rope_scaling'] !== undefined && o['rope_scaling'] !== null) {
    throw new FormatError(file, `rope_scaling ${JSON.stringify(o['rope_scaling'])} is not supported (only null)`);
  }
  for (const key of ['attention_bias', 'mlp_bias'] as const) {
    if (o[key] === true) throw new FormatError(file, `${key}: true is not supported`);
  }
  const int = (key: string, fallback?: number): number => {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new FormatError(file, `${key} is ${JSON.stringify(v)}, expected a positive integer`);
    return v;
  };
  const real = (key: string, fallback: number): number => {
    const v = o[key] ?? fallback;
    if (typeof v !== 'number' || !(v > 0)) throw new FormatError(file, `${key} is ${JSON.stringify(v)}, expected a positive number`);
    return v;
  };
  const tokenId = (key: string): number | null => {
    const v = o[key];
    if (v === undefined || v === null) return null;
    const first = Array.isArray(v) ? v[0] : v; // Llama 3 lists several eos ids; the first is the main one
    if (typeof first !== 'number' || !Number.isSafeInteger(first) || first < 0) throw new FormatError(file, `${key} is ${JSON.stringify(v)}, expected a token id`);
    return first;
  };
  const hiddenSize = int('hidden_size');
  const numHeads = int('num_attention_heads');
  const numKvHeads = int('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) throw new FormatError(file, `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  const headDim = int('head_dim', Math.floor(hiddenSize / numHeads));
  if (headDim % 2 !== 0) throw new FormatError(file, `head_dim ${headDim} is odd; rope needs pairs`);
  const tie = o['tie_word_embeddings'] ?? false;
  if (typeof tie !== 'boolean') throw new FormatError(file, `tie_word_embeddings is ${JSON.stringify(tie)}, expected a boolean`);
  return Object.freeze({
    vocabSize: int('vocab_size'),
    hiddenSize,
    intermediateSize: int('intermediate_size'),
    numLayers: int('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: int('max_position_embeddings', 2048),
    rmsNormEps: real('rms_norm_eps', 1e-6),
    ropeTheta: real('rope_theta', 10000),
    ropeStyle: 'half' as const,
    tieWordEmbeddings: tie,
    initStd: real('initializer_range', 0.02),
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId: tokenId('eos_token_id'),
  });
}

/**
 * The config.json for `config`. HF only knows rotate-half: a config with ropeStyle 'adjacent'
 * (weights from a GGUF) needs its q/k rows unpermuted first (unpermuteQkFromGguf), so this refuses it.
 */
export function modelConfigToHfConfig(config: ModelConfig): Record<string, unknown> {
  if (config.ropeStyle !== 'half') {
    throw new RangeError('modelConfigToHfConfig: ropeStyle is "adjacent"; unpermute q/k (unpermuteQkFromGguf) and set ropeStyle "half" first');
  }
  return {
    architectures: ['LlamaForCausalLM'],
    model_type: 'llama',
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    rope_scaling: null,
    hidden_act: 'silu',
    attention_bias: false,
    mlp_bias: false,
    tie_word_embeddings: config.tieWordEmbeddings,
    vocab_size: config.vocabSize,
    initializer_range: config.initStd,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    torch_dtype: 'float32',
  };
}
