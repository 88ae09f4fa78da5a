import { FormatError } from '../../errors.ts';
import { withExtras, type ModelConfig } from '../../models/types.ts';
import { archForConfig, archFromHf, type Architecture, type HfFields } from './arch/index.ts';

/**
 * HF config.json ↔ ModelConfig: the Llama base fields here, the extras from the architecture's
 * file (arch/: LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM).
 * HF applies rope by rotate-half: ropeStyle 'half'.
 */
export function hfConfigToModelConfig(json: unknown, file: string): ModelConfig {
  return hfConfigToModel(json, file).config;
}

/** hfConfigToModelConfig and the architecture it read (whose file says how its weights are laid out). */
export function hfConfigToModel(json: unknown, file: string): { config: ModelConfig; arch: Architecture } {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new FormatError(file, 'config.json is not a JSON object');
  const o = json as Record<string, unknown>;
  const arch = archFromHf(o['architectures'], file);
  const f = hfFields(o, file);
  const act = o['hidden_act'] ?? 'silu';
  if (act !== 'silu') throw new FormatError(file, `hidden_act ${JSON.stringify(act)} is not supported (silu)`);
  const tokenId = (key: string): number | null => {
    const v = o[key];
    if (v === undefined || v === null) return null;
    const first = Array.isArray(v) ? v[0] : v; // Llama 3 lists several eos ids; the first is the main one
    if (typeof first !== 'number' || !Number.isSafeInteger(first) || first < 0) throw new FormatError(file, `${key} is ${JSON.stringify(v)}, expected a token id`);
    return first;
  };
  const hiddenSize = f.posInt('hidden_size');
  const numHeads = f.posInt('num_attention_heads');
  const numKvHeads = f.posInt('num_key_value_heads', numHeads);
  if (numHeads % numKvHeads !== 0) throw new FormatError(file, `num_attention_heads ${numHeads} is not a multiple of num_key_value_heads ${numKvHeads}`);
  const headDim = o['head_dim'] === null ? Math.floor(hiddenSize / numHeads) : f.posInt('head_dim', Math.floor(hiddenSize / numHeads));
  if (headDim % 2 !== 0) throw new FormatError(file, `head_dim ${headDim} is odd; rope needs pairs`);
  const tie = o['tie_word_embeddings'] ?? false;
  if (typeof tie !== 'boolean') throw new FormatError(file, `tie_word_embeddings is ${JSON.stringify(tie)}, expected a boolean`);
  const base: ModelConfig = {
    vocabSize: f.posInt('vocab_size'),
    hiddenSize,
    intermediateSize: f.posInt('intermediate_size'),
    numLayers: f.posInt('num_hidden_layers'),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: f.posInt('max_position_embeddings', 2048),
    rmsNormEps: f.real('rms_norm_eps', 1e-6),
    ropeTheta: f.real('rope_theta', 10000),
    ropeStyle: 'half',
    tieWordEmbeddings: tie,
    initStd: f.real('initializer_range', 0.02),
    bosTokenId: tokenId('bos_token_id'),
    eosTokenId: tokenId('eos_token_id'),
  };
  return { config: withExtras(base, arch.fromHf(f, base)), arch };
}

function hfFields(o: Record<string, unknown>, file: string): HfFields {
  return {
    file,
    raw: (key) => o[key],
    posInt(key, fallback) {
      const v = o[key] ?? fallback;
      if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 1) throw new FormatError(file, `${key} is ${JSON.stringify(v)}, expected a positive integer`);
      return v;
    },
    real(key, fallback) {
      const v = o[key] ?? fallback;
      if (typeof v !== 'number' || !(v > 0)) throw new FormatError(file, `${key} is ${JSON.stringify(v)}, expected a positive number`);
      return v;
    },
  };
}

/**
 * The config.json for `config`, as the architecture its extras need. HF only knows rotate-half:
 * a config with ropeStyle 'adjacent' (weights from a GGUF) needs its q/k rows unpermuted first
 * (unpermuteQkFromGguf), so this refuses it.
 */
export function modelConfigToHfConfig(config: ModelConfig, arch: Architecture = archForConfig(config)): Record<string, unknown> {
  if (config.ropeStyle !== 'half') {
    throw new RangeError('modelConfigToHfConfig: ropeStyle is "adjacent"; unpermute q/k (unpermuteQkFromGguf) and set ropeStyle "half" first');
  }
  return {
    hidden_size: config.hiddenSize,
    intermediate_size: config.intermediateSize,
    num_hidden_layers: config.numLayers,
    num_attention_heads: config.numHeads,
    num_key_value_heads: config.numKvHeads,
    head_dim: config.headDim,
    max_position_embeddings: config.maxPositionEmbeddings,
    rms_norm_eps: config.rmsNormEps,
    rope_theta: config.ropeTheta,
    hidden_act: 'silu',
    tie_word_embeddings: config.tieWordEmbeddings,
    vocab_size: config.vocabSize,
    initializer_range: config.initStd,
    bos_token_id: config.bosTokenId,
    eos_token_id: config.eosTokenId,
    torch_dtype: 'float32',
    ...arch.toHf(config),
  };
}
