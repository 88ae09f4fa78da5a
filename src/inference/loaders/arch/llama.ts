/**
 * `llama` (GGUF) / LlamaForCausalLM, MistralForCausalLM (HF): the base decoder, plus Llama 3.1
 * rope scaling (HF `rope_scaling` llama3 / linear; GGUF `rope.scaling.*` and the rope_freqs
 * tensor, which the GGUF loader turns into ropeScaling 'freqs') and Mistral's sliding window.
 * llama.cpp rotates llama by adjacent pairs, so its GGUF stores q/k rows permuted.
 */
import { FormatError } from '../../../errors.ts';
import { modelExtras } from '../../../models/types.ts';
import { capToWindow, ggufRopeScaling, hfRopeScaling, ropeScalingToGguf, ropeScalingToHf } from './rope_fields.ts';
import type { Architecture } from './types.ts';

export const llama: Architecture = {
  name: 'llama',
  hfArchitectures: ['LlamaForCausalLM', 'MistralForCausalLM'],
  ggufRopeStyle: 'adjacent',
  fused: null,
  ropeFreqsTensor: true,
  fromGguf(f, base) {
    const window = f.has('attention.sliding_window') ? f.posInt('attention.sliding_window') : null;
    return { ropeScaling: ggufRopeScaling(f), ...capToWindow(base, window) };
  },
  fromHf(f, base) {
    // HF Llama's attention_bias also adds a bias to o_proj, which the runner has no slot for.
    for (const key of ['attention_bias', 'mlp_bias'] as const) {
      if (f.raw(key) === true) throw new FormatError(f.file, `${key}: true is not supported`);
    }
    const window = f.raw('sliding_window');
    if (window !== undefined && window !== null && (typeof window !== 'number' || !Number.isSafeInteger(window) || window < 1)) {
      throw new FormatError(f.file, `sliding_window is ${JSON.stringify(window)}, expected a positive integer or null`);
    }
    return { ropeScaling: hfRopeScaling(f), ...capToWindow(base, (window as number | null | undefined) ?? null) };
  },
  check(config) {
    const e = modelExtras(config);
    if (e.attentionBias) return 'llama has no q/k/v biases here (qwen2 has)';
    if (e.qkNorm) return 'llama has no q/k norms (qwen3 has)';
    return null;
  },
  toGguf: (config) => ropeScalingToGguf('llama', modelExtras(config).ropeScaling),
  toHf: (config) => ({ architectures: ['LlamaForCausalLM'], model_type: 'llama', rope_scaling: ropeScalingToHf(modelExtras(config).ropeScaling), attention_bias: false, mlp_bias: false }),
};
