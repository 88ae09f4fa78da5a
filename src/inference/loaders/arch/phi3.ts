/**
 * `phi3` (GGUF) / Phi3ForCausalLM (HF; Phi-3 and Phi-3.5 mini): the Llama decoder with q/k/v fused
 * into one projection and gate/up into one (split at load, fused.ts), rotate-half rope (NEOX in
 * llama.cpp). Its sliding window caps the context. LongRoPE (the 128k variants, with their
 * rope_factors_long/short tensors) and a partial rotary factor are refused.
 */
import { FormatError } from '../../../errors.ts';
import { isPlainLlama, modelExtras } from '../../../models/types.ts';
import { capToWindow, ggufRopeScaling, hfRopeScaling, ropeScalingToGguf, ropeScalingToHf } from './rope_fields.ts';
import type { Architecture } from './types.ts';

export const phi3: Architecture = {
  name: 'phi3',
  hfArchitectures: ['Phi3ForCausalLM'],
  ggufRopeStyle: 'half',
  fused: {
    gguf: { qkv: 'self_attn.qkv_proj.weight', gateUp: 'mlp.up_proj.weight' },
    hf: { qkv: 'self_attn.qkv_proj.weight', gateUp: 'mlp.gate_up_proj.weight' },
  },
  ropeFreqsTensor: false,
  fromGguf(f, base) {
    const window = f.has('attention.sliding_window') ? f.posInt('attention.sliding_window') : null;
    return { ropeScaling: ggufRopeScaling(f), ...capToWindow(base, window) };
  },
  fromHf(f, base) {
    const partial = f.raw('partial_rotary_factor');
    if (partial !== undefined && partial !== 1) throw new FormatError(f.file, `partial_rotary_factor ${JSON.stringify(partial)} is not supported (1)`);
    const window = f.raw('sliding_window');
    if (window !== undefined && window !== null && (typeof window !== 'number' || !Number.isSafeInteger(window) || window < 1)) {
      throw new FormatError(f.file, `sliding_window is ${JSON.stringify(window)}, expected a positive integer or null`);
    }
    return { ropeScaling: hfRopeScaling(f), ...capToWindow(base, (window as number | null | undefined) ?? null) };
  },
  check(config) {
    const e = modelExtras(config);
    if (!isPlainLlama({ ...config, ropeScaling: null }) || (e.ropeScaling !== null && e.ropeScaling.type !== 'linear')) return 'phi3 has no q/k/v biases, q/k norms or rope divisors here';
    return null;
  },
  toGguf: (config) => ropeScalingToGguf('phi3', modelExtras(config).ropeScaling),
  toHf: (config) => ({ architectures: ['Phi3ForCausalLM'], model_type: 'phi3', rope_scaling: ropeScalingToHf(modelExtras(config).ropeScaling) }),
};
