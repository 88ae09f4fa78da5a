import { ConfigError } from '../../errors.ts';
import { makeModelConfig } from '../../models/config.ts';
import type { ModelConfig } from '../../models/types.ts';
import type { DsConfig } from './load.ts';

/** The config's `model` block (HF Llama names) as a ModelConfig; vocab from the tokenizer when absent. */
export function modelConfigFromDs(cfg: DsConfig, vocabFromData: number, special: { bos: number | null; eos: number | null }): ModelConfig {
  const m = cfg.model;
  if (!m) throw new ConfigError('model', `${cfg.source}: a "model" block is required (hidden_size, num_hidden_layers, num_attention_heads)`);
  if (m.vocab_size !== undefined && m.vocab_size < vocabFromData)
    throw new ConfigError('model.vocab_size', `vocab_size ${m.vocab_size} is smaller than the tokenizer's ${vocabFromData} tokens`);
  return makeModelConfig({
    vocabSize: m.vocab_size ?? vocabFromData,
    hiddenSize: m.hidden_size,
    intermediateSize: m.intermediate_size,
    numLayers: m.num_hidden_layers,
    numHeads: m.num_attention_heads,
    numKvHeads: m.num_key_value_heads,
    headDim: m.head_dim,
    maxPositionEmbeddings: m.max_position_embeddings,
    rmsNormEps: m.rms_norm_eps,
    ropeTheta: m.rope_theta,
    ropeStyle: m.rope_style,
    tieWordEmbeddings: m.tie_word_embeddings,
    initStd: m.init_std,
    bosTokenId: special.bos,
    eosTokenId: special.eos,
  });
}
