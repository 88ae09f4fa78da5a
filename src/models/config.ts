import { ConfigError } from '../errors.ts';
import type { ModelConfig } from './types.ts';

/** What a caller may give; everything else is derived or defaulted (HF Llama defaults). */
export type ModelConfigInput = Partial<ModelConfig> &
  Pick<ModelConfig, 'vocabSize' | 'hiddenSize' | 'numLayers' | 'numHeads'>;

export function makeModelConfig(given: ModelConfigInput): ModelConfig {
  // An explicit undefined means "use the default", not "unset".
  const input = Object.fromEntries(Object.entries(given).filter(([, v]) => v !== undefined)) as ModelConfigInput;
  const numKvHeads = input.numKvHeads ?? input.numHeads;
  const config: ModelConfig = {
    intermediateSize: input.intermediateSize ?? defaultIntermediate(input.hiddenSize),
    headDim: input.headDim ?? input.hiddenSize / input.numHeads,
    maxPositionEmbeddings: 2048,
    rmsNormEps: 1e-5,
    ropeTheta: 10000,
    ropeStyle: 'half',
    tieWordEmbeddings: false,
    initStd: 0.02,
    bosTokenId: null,
    eosTokenId: null,
    ...input,
    numKvHeads,
  };
  validateModelConfig(config);
  return Object.freeze(config);
}

/** SwiGLU width as Llama sizes it: 2/3 · 4D rounded up to a multiple of 8. */
function defaultIntermediate(d: number): number {
  return Math.ceil((8 * d) / 3 / 8) * 8;
}

export function validateModelConfig(c: ModelConfig, path = 'model'): void {
  const positive: (keyof ModelConfig)[] = ['vocabSize', 'hiddenSize', 'intermediateSize', 'numLayers', 'numHeads', 'numKvHeads', 'headDim', 'maxPositionEmbeddings'];
  for (const k of positive) {
    const v = c[k];
    if (typeof v !== 'number' || !Number.isInteger(v) || v <= 0) throw new ConfigError(`${path}.${k}`, `must be a positive integer, got ${String(v)}`);
  }
  if (c.numHeads % c.numKvHeads !== 0)
    throw new ConfigError(`${path}.numKvHeads`, `num_key_value_heads ${c.numKvHeads} must divide num_attention_heads ${c.numHeads}`);
  if (c.headDim % 2 !== 0) throw new ConfigError(`${path}.headDim`, `head_dim ${c.headDim} must be even for rotary embeddings`);
  if (c.ropeStyle !== 'half' && c.ropeStyle !== 'adjacent')
    throw new ConfigError(`${path}.ropeStyle`, `must be 'half' or 'adjacent', got ${String(c.ropeStyle)}`);
}
