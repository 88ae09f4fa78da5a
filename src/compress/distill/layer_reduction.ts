import { ConfigError } from '../../errors.ts';
import type { HostTensor } from '../../inference/loaders/types.ts';
import type { ModelConfig } from '../../models/types.ts';

/**
 * DeepSpeed's layer_reduction: the student keeps `keep_number_layer` decoder layers and starts
 * each from a chosen teacher layer; the embeddings, the final norm and the head are copied too.
 *
 *   student model.layers.i.*  ←  teacher model.layers.{teacher_layer[i]}.*
 *   student model.embed_tokens / model.norm / lm_head  ←  the teacher's
 *
 * Returns the student's full parameters in its flat layout ([numel]).
 */
export interface FlatLayout {
  readonly numel: number;
  readonly segments: readonly { readonly name: string; readonly offset: number; readonly numel: number; readonly shape: readonly number[] }[];
}

export function studentFromTeacher(
  student: ModelConfig,
  layout: FlatLayout,
  teacher: { readonly config: ModelConfig; readonly weights: ReadonlyMap<string, HostTensor>; readonly source: string },
  lr: { readonly keep_number_layer: number; readonly teacher_layer: readonly number[] },
): Float32Array {
  const at = 'compression_training.layer_reduction';
  if (lr.keep_number_layer !== student.numLayers)
    throw new ConfigError(`${at}.keep_number_layer`, `${lr.keep_number_layer}, but the student model has ${student.numLayers} layers (model.num_hidden_layers)`);
  lr.teacher_layer.forEach((t, i) => {
    if (t >= teacher.config.numLayers)
      throw new ConfigError(`${at}.teacher_layer[${i}]`, `${t} is out of range: the teacher (${teacher.source}) has layers 0..${teacher.config.numLayers - 1}`);
  });
  const params = new Float32Array(layout.numel);
  for (const seg of layout.segments) {
    const m = /^model\.layers\.(\d+)\.(.*)$/.exec(seg.name);
    const from = m ? `model.layers.${lr.teacher_layer[Number(m[1])]}.${m[2]}` : seg.name;
    // A tied teacher has no lm_head: its head is the embedding.
    const w = teacher.weights.get(from) ?? (from === 'lm_head.weight' ? teacher.weights.get('model.embed_tokens.weight') : undefined);
    if (!w) throw new ConfigError(at, `the student's ${seg.name} would start from the teacher's ${from}, which ${teacher.source} does not have`);
    if (w.shape.join(',') !== seg.shape.join(','))
      throw new ConfigError(at, `the student's ${seg.name} is [${seg.shape.join(', ')}], the teacher's ${from} is [${w.shape.join(', ')}] (${teacher.source}): layer reduction keeps the teacher's widths, only the depth changes`);
    params.set(w.data, seg.offset);
  }
  return params;
}
