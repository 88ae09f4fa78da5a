/**
 * `qwen2` (GGUF) / Qwen2ForCausalLM (HF; Qwen2 and Qwen2.5): the Llama decoder with biases on the
 * q, k and v projections. llama.cpp rotates it by rotate-half (NEOX), so weights are stored as HF has them.
 * Its sliding window is off unless `use_sliding_window` is true; when on, the context is capped at it.
 */
import { FormatError } from '../../../errors.ts';
import { modelExtras } from '../../../models/types.ts';
import { capToWindow, ggufRopeScaling, hfRopeScaling, ropeScalingToGguf, ropeScalingToHf } from './rope_fields.ts';
import type { Architecture, HfFields } from './types.ts';

export const qwen2: Architecture = {
  name: 'qwen2',
  hfArchitectures: ['Qwen2ForCausalLM'],
  ggufRopeStyle: 'half',
  fused: null,
  ropeFreqsTensor: false,
  fromGguf: (f, base) => {
    const window = f.has('attention.sliding_window') ? f.posInt('attention.sliding_window') : null;
    return { attentionBias: true, ropeScaling: ggufRopeScaling(f), ...capToWindow(base, window) };
  },
  fromHf: (f, base) => ({ attentionBias: true, ropeScaling: hfRopeScaling(f), ...capToWindow(base, qwenWindow(f)) }),
  check(config) {
    const e = modelExtras(config);
    if (!e.attentionBias) return 'qwen2 needs q/k/v biases (attentionBias)';
    if (e.qkNorm) return 'qwen2 has no q/k norms (qwen3 has)';
    return null;
  },
  toGguf: (config) => ropeScalingToGguf('qwen2', modelExtras(config).ropeScaling),
  toHf: (config) => ({ architectures: ['Qwen2ForCausalLM'], model_type: 'qwen2', rope_scaling: ropeScalingToHf(modelExtras(config).ropeScaling), use_sliding_window: false }),
};

/** Qwen's window applies when use_sliding_window is true (then from layer max_window_layers on: refused unless 0). */
export function qwenWindow(f: HfFields): number | null {
  if (f.raw('use_sliding_window') !== true) return null;
  const from = f.raw('max_window_layers');
  const window = f.posInt('sliding_window');
  if (from !== undefined && from !== 0) throw new FormatError(f.file, `use_sliding_window with max_window_layers ${JSON.stringify(from)} (a window on some layers only) is not supported`);
  return window;
}
