import type { ModelConfig } from '../../../models/types.ts';
import type { HostTensor } from '../types.ts';
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
  /** Type of the 2-D weights; norms are always F32. */
  readonly type: GgufWriteType;
  readonly name?: string;
}

/**
 * Writes a llama GGUF that llama.cpp runs. A config with ropeStyle 'half' (HF weights) gets its
 * q/k rows permuted to the adjacent-pair order llama.cpp computes; 'adjacent' weights go as they are.
 */
export function writeLlamaGguf(path: string, m: LlamaGgufInput): void {
  const tensors: GgufTensorToWrite[] = [];
  for (const [hf, t] of m.weights) {
    const name = hfToGgufName(hf);
    if (name === null) throw new InputError(`writeLlamaGguf: weight "${hf}" has no GGUF llama name`);
    let w = t;
    if (m.config.ropeStyle === 'half' && hf.endsWith('self_attn.q_proj.weight')) w = permuteQkForGguf(t, m.config.numHeads);
    if (m.config.ropeStyle === 'half' && hf.endsWith('self_attn.k_proj.weight')) w = permuteQkForGguf(t, m.config.numKvHeads);
    tensors.push({ name, shape: w.shape, data: w.data, type: w.shape.length === 1 ? 'F32' : m.type });
  }
  const md = modelConfigToGguf(m.config, m.name);
  md.set('general.file_type', { type: 'u32', value: { F32: 0, F16: 1, Q4_0: 2, Q8_0: 7 }[m.type] });
  for (const [k, v] of m.tokenizer) md.set(k, v);
  writeGguf(path, md, tensors);
}
