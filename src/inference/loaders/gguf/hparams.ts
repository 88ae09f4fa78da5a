import { FormatError } from '../../../errors.ts';
import { withExtras, type ModelConfig } from '../../../models/types.ts';
import { archFromGguf, archForConfig, type Architecture, type GgufFields } from '../arch/index.ts';
import type { GgufKv } from './writer.ts';
import type { GgufValue } from './reader.ts';

/** Typed reads of `{prefix}.{key}`, each error naming the full key and the file. */
export function ggufFields(md: ReadonlyMap<string, GgufValue>, prefix: string, file: string): GgufFields {
  const full = (key: string) => `${prefix}.${key}`;
  const num = (key: string, fallback?: number): number => {
    const v = md.get(full(key));
    if (v === undefined && fallback !== undefined) return fallback;
    if (typeof v !== 'number' || !Number.isFinite(v)) throw new FormatError(file, `${full(key)} is ${v === undefined ? 'missing' : JSON.stringify(v)}, expected a number`);
    return v;
  };
  return {
    file,
    key: full,
    has: (key) => md.has(full(key)),
    num,
    posInt(key, fallback) {
      const v = num(key, fallback);
      if (!Number.isSafeInteger(v) || v < 1) throw new FormatError(file, `${full(key)} is ${v}, expected a positive integer`);
      return v;
    },
    str(key, fallback) {
      const v = md.get(full(key)) ?? fallback;
      if (typeof v !== 'string') throw new FormatError(file, `${full(key)} is ${v === undefined ? 'missing' : JSON.stringify(v)}, expected a string`);
      return v;
    },
  };
}

/**
 * `{arch}.*` hyperparameters → ModelConfig: the shared Llama base here, the extras from the
 * architecture's file (arch/). ropeStyle is how llama.cpp rotates that architecture, since
 * weights are kept as stored. `ropeFreqs`: the rope_freqs tensor's values, if the file has one.
 */
export function ggufToModelConfig(
  md: ReadonlyMap<string, GgufValue>, file: string, vocabFromTensors: number, ropeFreqs: Float32Array | null = null,
): { config: ModelConfig; arch: Architecture } {
  const arch = archFromGguf(md.get('general.architecture'), file);
  const f = ggufFields(md, arch.name, file);
  const hiddenSize = f.posInt('embedding_length');
  const numHeads = f.posInt('attention.head_count');
  const numKvHeads = f.posInt('attention.head_count_kv', numHeads);
  if (numHeads % numKvHeads !== 0) throw new FormatError(file, `${arch.name}.attention.head_count ${numHeads} is not a multiple of head_count_kv ${numKvHeads}`);
  const headDim = f.posInt('attention.key_length', Math.floor(hiddenSize / numHeads));
  const valueDim = f.posInt('attention.value_length', headDim);
  if (valueDim !== headDim) throw new FormatError(file, `${arch.name}.attention.value_length ${valueDim} differs from key_length ${headDim}`);
  const ropeDims = f.posInt('rope.dimension_count', headDim);
  if (ropeDims !== headDim) throw new FormatError(file, `${arch.name}.rope.dimension_count ${ropeDims} differs from the head dim ${headDim} (partial rope is not supported)`);
  const tok = md.get('tokenizer.ggml.tokens');
  const vocabSize = f.posInt('vocab_size', Array.isArray(tok) ? tok.length : vocabFromTensors);
  const id = (key: string): number | null => {
    const v = md.get(`tokenizer.ggml.${key}`);
    return typeof v === 'number' && Number.isSafeInteger(v) && v >= 0 && v < vocabSize ? v : null;
  };
  const base: ModelConfig = {
    vocabSize,
    hiddenSize,
    intermediateSize: f.posInt('feed_forward_length'),
    numLayers: f.posInt('block_count'),
    numHeads,
    numKvHeads,
    headDim,
    maxPositionEmbeddings: f.posInt('context_length'),
    rmsNormEps: f.num('attention.layer_norm_rms_epsilon'),
    ropeTheta: f.num('rope.freq_base', 10000),
    ropeStyle: arch.ggufRopeStyle,
    tieWordEmbeddings: false, // decided by the loader: tied when output.weight is absent
    initStd: 0.02,
    bosTokenId: id('bos_token_id'),
    eosTokenId: id('eos_token_id'),
  };
  const extras = arch.fromGguf(f, base);
  if (ropeFreqs === null) return { config: withExtras(base, extras), arch };
  if (!arch.ropeFreqsTensor) throw new FormatError(file, `tensor "rope_freqs.weight" is not part of a ${arch.name} model`);
  if (ropeFreqs.length !== headDim / 2) throw new FormatError(file, `tensor "rope_freqs.weight" has ${ropeFreqs.length} values, the head dim ${headDim} needs ${headDim / 2}`);
  if (extras.ropeScaling) throw new FormatError(file, `tensor "rope_freqs.weight" together with ${arch.name}.rope.scaling.type ${extras.ropeScaling.type} is not supported`);
  if (!ropeFreqs.every((d) => d > 0 && Number.isFinite(d))) throw new FormatError(file, 'tensor "rope_freqs.weight" holds a divisor that is not a positive finite number');
  return { config: withExtras(base, { ...extras, ropeScaling: { type: 'freqs', divisors: Array.from(ropeFreqs) } }), arch };
}

/** The `{arch}.*` (and general.*) metadata entries that describe `config`; `arch` defaults to the one its extras need. */
export function modelConfigToGguf(config: ModelConfig, name = 'deepscale', arch: Architecture = archForConfig(config)): Map<string, GgufKv> {
  const why = arch.check(config);
  if (why !== null) throw new RangeError(`modelConfigToGguf: ${why}`);
  const u32 = (value: number): GgufKv => ({ type: 'u32', value });
  const f32 = (value: number): GgufKv => ({ type: 'f32', value });
  const a = arch.name;
  return new Map<string, GgufKv>([
    ['general.architecture', { type: 'string', value: a }],
    ['general.name', { type: 'string', value: name }],
    ['general.alignment', u32(32)],
    [`${a}.context_length`, u32(config.maxPositionEmbeddings)],
    [`${a}.embedding_length`, u32(config.hiddenSize)],
    [`${a}.block_count`, u32(config.numLayers)],
    [`${a}.feed_forward_length`, u32(config.intermediateSize)],
    [`${a}.attention.head_count`, u32(config.numHeads)],
    [`${a}.attention.head_count_kv`, u32(config.numKvHeads)],
    [`${a}.attention.key_length`, u32(config.headDim)],
    [`${a}.attention.value_length`, u32(config.headDim)],
    [`${a}.attention.layer_norm_rms_epsilon`, f32(config.rmsNormEps)],
    [`${a}.rope.freq_base`, f32(config.ropeTheta)],
    [`${a}.rope.dimension_count`, u32(config.headDim)],
    [`${a}.vocab_size`, u32(config.vocabSize)],
    ...arch.toGguf(config),
  ]);
}
