/** Rope scaling and sliding-window fields shared by the architectures that use them. */
import { FormatError } from '../../../errors.ts';
import type { ModelConfig, RopeScaling } from '../../../models/types.ts';
import type { GgufKv } from '../gguf/writer.ts';
import type { GgufFields, HfFields } from './types.ts';

/**
 * `{arch}.rope.scaling.type` ('none' | 'linear', with `.factor`; the older `rope.scale_linear`).
 * YaRN and LongRoPE are refused by name: they change attention as well as the frequencies.
 */
export function ggufRopeScaling(f: GgufFields): RopeScaling | null {
  const type = f.str('rope.scaling.type', 'none');
  if (type === 'linear') return { type: 'linear', factor: positive(f.num('rope.scaling.factor'), f.key('rope.scaling.factor'), f.file) };
  if (type !== 'none') throw new FormatError(f.file, `${f.key('rope.scaling.type')} ${JSON.stringify(type)} is not supported (none, linear; Llama 3.1 divisors come as the rope_freqs tensor)`);
  if (f.has('rope.scale_linear')) {
    const factor = positive(f.num('rope.scale_linear'), f.key('rope.scale_linear'), f.file);
    return factor === 1 ? null : { type: 'linear', factor };
  }
  return null;
}

/** HF `rope_scaling`: null, {rope_type: 'linear', factor}, or {rope_type: 'llama3', …}. Others are refused by name. */
export function hfRopeScaling(f: HfFields): RopeScaling | null {
  const rs = f.raw('rope_scaling');
  if (rs === undefined || rs === null) return null;
  if (typeof rs !== 'object' || Array.isArray(rs)) throw new FormatError(f.file, `rope_scaling ${JSON.stringify(rs)} is not an object`);
  const o = rs as Record<string, unknown>;
  const type = o['rope_type'] ?? o['type'];
  const num = (key: string): number => {
    const v = o[key];
    if (typeof v !== 'number' || !(v > 0)) throw new FormatError(f.file, `rope_scaling.${key} is ${JSON.stringify(v)}, expected a positive number`);
    return v;
  };
  if (type === 'default') return null;
  if (type === 'linear') return { type: 'linear', factor: num('factor') };
  if (type === 'llama3') {
    const s = { type: 'llama3' as const, factor: num('factor'), lowFreqFactor: num('low_freq_factor'), highFreqFactor: num('high_freq_factor'), originalMaxPositionEmbeddings: num('original_max_position_embeddings') };
    if (!(s.highFreqFactor > s.lowFreqFactor)) throw new FormatError(f.file, `rope_scaling.high_freq_factor ${s.highFreqFactor} must exceed low_freq_factor ${s.lowFreqFactor}`);
    return s;
  }
  throw new FormatError(f.file, `rope_scaling.rope_type ${JSON.stringify(type)} is not supported (linear, llama3)`);
}

/** config.json's rope_scaling for `s` ('freqs' divisors have no HF form). */
export function ropeScalingToHf(s: RopeScaling | null): Record<string, unknown> | null {
  if (s === null) return null;
  if (s.type === 'linear') return { rope_type: 'linear', factor: s.factor };
  if (s.type === 'llama3') {
    return { rope_type: 'llama3', factor: s.factor, low_freq_factor: s.lowFreqFactor, high_freq_factor: s.highFreqFactor, original_max_position_embeddings: s.originalMaxPositionEmbeddings };
  }
  throw new RangeError('ropeScalingToHf: rope divisors from a GGUF rope_freqs tensor have no config.json form');
}

/** `{arch}.rope.scaling.*` for a linear scaling (llama3 and freqs divisors travel as the rope_freqs tensor). */
export function ropeScalingToGguf(arch: string, s: RopeScaling | null): Map<string, GgufKv> {
  const md = new Map<string, GgufKv>();
  if (s?.type === 'linear') {
    md.set(`${arch}.rope.scaling.type`, { type: 'string', value: 'linear' });
    md.set(`${arch}.rope.scaling.factor`, { type: 'f32', value: s.factor });
  }
  return md;
}

/**
 * A sliding window (Mistral's `sliding_window`) is honoured by capping the context at the window:
 * while every position is inside it, sliding-window attention is full causal attention.
 */
export function capToWindow(base: ModelConfig, window: number | null): Pick<ModelConfig, 'maxPositionEmbeddings'> | Record<string, never> {
  return window !== null && window < base.maxPositionEmbeddings ? { maxPositionEmbeddings: window } : {};
}

function positive(v: number, key: string, file: string): number {
  if (!(v > 0)) throw new FormatError(file, `${key} is ${v}, expected a positive number`);
  return v;
}
