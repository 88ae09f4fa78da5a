/**
 * `qwen3` (GGUF) / Qwen3ForCausalLM (HF): the Llama decoder with an RMSNorm over each head of q
 * and of k (weights [Dh], shared by the heads) before rope, and no q/k/v biases. head_dim is
 * given explicitly (it need not be hidden_size / heads). Rotate-half (NEOX) in llama.cpp.
 */
import { FormatError } from '../../../errors.ts';
import { modelExtras } from '../../../models/types.ts';
import { qwenWindow } from './qwen2.ts';
import { capToWindow, ggufRopeScaling, hfRopeScaling, ropeScalingToGguf, ropeScalingToHf } from './rope_fields.ts';
import type { Architecture } from './types.ts';

export const qwen3: Architecture = {
  name: 'qwen3',
  hfArchitectures: ['Qwen3ForCausalLM'],
  ggufRopeStyle: 'half',
  fused: null,
  ropeFreqsTensor: false,
  fromGguf: (f, base) => {
    const window = f.has('attention.sliding_window') ? f.posInt('attention.sliding_window') : null;
    return { qkNorm: true, ropeScaling: ggufRopeScaling(f), ...capToWindow(base, window) };
  },
  fromHf(f, base) {
    // Qwen3's attention_bias would also bias o_proj, which the runner has no slot for.
    if (f.raw('attention_bias') === true) throw new FormatError(f.file, 'attention_bias: true is not supported');
    return { qkNorm: true, ropeScaling: hfRopeScaling(f), ...capToWindow(base, qwenWindow(f)) };
  },
  check(config) {
    const e = modelExtras(config);
    if (!e.qkNorm) return 'qwen3 needs q/k norms (qkNorm)';
    if (e.attentionBias) return 'qwen3 has no q/k/v biases';
    return null;
  },
  toGguf: (config) => ropeScalingToGguf('qwen3', modelExtras(config).ropeScaling),
  toHf: (config) => ({ architectures: ['Qwen3ForCausalLM'], model_type: 'qwen3', rope_scaling: ropeScalingToHf(modelExtras(config).ropeScaling), attention_bias: false, use_sliding_window: false }),
};
