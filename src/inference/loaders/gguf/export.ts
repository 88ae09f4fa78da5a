import { modelExtras, type ModelConfig } from '../../../models/types.ts';
import { ropeDivisors } from '../../../models/rope_scaling.ts';
import type { HostTensor } from '../types.ts';
import { archForConfig, type Architecture } from '../arch/index.ts';
import { fuseSplit } from '../fused.ts';
import { modelConfigToGguf } from './hparams.ts';
import { hfToGgufName } from './names.ts';
import { permuteQkForGguf } from './permute.ts';
import { writeGguf } from './writer.ts';
import type { GgufKv, GgufTensorToWrite, GgufWriteType } from './writer.ts';
import { InputError } from '../../../errors.ts';

export interface LlamaGgufInput {
  readonly config: ModelConfig;
  /** HF names, HF shapes. */
  readonly weights: ReadonlyMap<string, HostTensor>;
  /** tokenizer.ggml.* entries (see tokenizer_kv.ts); llama.cpp refuses a GGUF without them. */
  readonly tokenizer: ReadonlyMap<string, GgufKv>;
  /** Type of the 2-D weights; norms and biases are always F32. */
  readonly type: GgufWriteType;
  readonly name?: string;
  /** The GGUF architecture; by default the one the config's extras need (llama, qwen2, qwen3). */
  readonly arch?: Architecture;
}

/**
 * Writes a GGUF that llama.cpp runs. For an architecture llama.cpp rotates by adjacent pairs
 * (llama), a config with ropeStyle 'half' (HF weights) gets its q/k rows (and q/k biases)
 * permuted to that order; 'adjacent' weights go as they are. Rotate-half architectures (qwen2,
 * qwen3) take HF weights as they are. Llama 3.1 rope scaling goes out as the rope_freqs tensor.
 */
export function writeLlamaGguf(path: string, m: LlamaGgufInput): void {
  const arch = m.arch ?? archForConfig(m.config);
  const c = m.config;
  if (arch.ggufRopeStyle === 'half' && c.ropeStyle === 'adjacent') {
    throw new InputError(`writeLlamaGguf: ${arch.name} is rotated by rotate-half; weights with ropeStyle 'adjacent' need unpermuteQkFromGguf first`);
  }
  const permute = arch.ggufRopeStyle === 'adjacent' && c.ropeStyle === 'half';
  const tensors: GgufTensorToWrite[] = [];
  const weights = arch.fused ? fuseSplit(m.weights, c, arch.fused.gguf) : m.weights;
  for (const [hf, t] of weights) {
    const name = hfToGgufName(hf);
    if (name === null) throw new InputError(`writeLlamaGguf: weight "${hf}" has no GGUF name`);
    const heads = /self_attn\.q_proj\./.test(hf) ? c.numHeads : /self_attn\.k_proj\./.test(hf) ? c.numKvHeads : 0;
    const w = permute && heads > 0 ? permuteAny(t, heads) : t;
    tensors.push({ name, shape: w.shape, data: w.data, type: w.shape.length === 1 ? 'F32' : m.type });
  }
  const scaling = modelExtras(c).ropeScaling;
  if (scaling !== null && scaling.type !== 'linear') {
    if (!arch.ropeFreqsTensor) throw new InputError(`writeLlamaGguf: ${arch.name} has no rope_freqs tensor for rope scaling ${scaling.type}`);
    tensors.push({ name: 'rope_freqs.weight', shape: [c.headDim / 2], data: Float32Array.from(ropeDivisors(c)), type: 'F32' });
  }
  const md = modelConfigToGguf(c, m.name, arch);
  const fileType = FILE_TYPE[m.type];
  if (fileType === undefined) throw new InputError(`writeLlamaGguf: no general.file_type for ${m.type}`);
  md.set('general.file_type', { type: 'u32', value: fileType });
  for (const [k, v] of m.tokenizer) md.set(k, v);
  writeGguf(path, md, tensors);
}

/** permuteQkForGguf for a weight [rows, in] or a bias [rows] (as [rows, 1]). */
function permuteAny(t: HostTensor, heads: number): HostTensor {
  if (t.shape.length === 2) return permuteQkForGguf(t, heads);
  return { shape: t.shape, data: permuteQkForGguf({ shape: [t.shape[0]!, 1], data: t.data }, heads).data };
}

/** general.file_type (llama_ftype) of a file whose 2-D weights are all `type`. */
const FILE_TYPE: Partial<Record<string, number>> = { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7, BF16: 32 };
