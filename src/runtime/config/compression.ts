import { z } from 'zod';
import { ConfigError } from '../../errors.ts';
import { nonNegInt, num, posInt } from './blocks.ts';

/**
 * DeepSpeed's `compression_training` block (compression/config.py), with its names and defaults:
 * weight quantization (QAT) and layer reduction are built; the other methods are accepted only
 * to be refused by name in checkCompression (a key that does nothing would be worse).
 */
const bits = z.number().int().min(1).max(8);

const weightGroup = z
  .object({
    params: z.object({ start_bits: bits, target_bits: bits, quantization_period: posInt.default(1) }).strict(),
    modules: z.array(z.string().min(1)).min(1).default(['*']),
    /** DeepSpeed: modules quantized with the same scale as these; not built (each weight has its own scales). */
    related_modules: z.unknown().optional(),
  })
  .strict();

const weightQuantization = z
  .object({
    shared_parameters: z
      .object({
        enabled: z.boolean().default(false),
        quantizer_kernel: z.boolean().default(false),
        schedule_offset: nonNegInt.default(0),
        /** Groups per weight tensor, as DeepSpeed (its elements split into this many equal runs). */
        quantize_groups: posInt.default(1),
        /** deepscale: elements per scale along a row instead (32, 64, 128 match `ds export --quantize int4`). */
        group_size: posInt.optional(),
        quantize_verbose: z.boolean().default(false),
        quantization_type: z.enum(['symmetric', 'asymmetric']).default('symmetric'),
        rounding: z.enum(['nearest', 'stochastic']).default('nearest'),
        quantize_weight_in_forward: z.boolean().default(false),
        fp16_mixed_quantize: z
          .object({ enabled: z.boolean().default(false), quantize_change_ratio: num.min(0).max(1).default(0.001) })
          .strict()
          .prefault({}),
      })
      .strict()
      .prefault({}),
    different_groups: z.record(z.string(), weightGroup).default({}),
  })
  .strict();

const layerReduction = z
  .object({
    enabled: z.boolean().default(false),
    keep_number_layer: posInt.optional(),
    /** Teacher layer index for each student layer, in order. */
    teacher_layer: z.array(nonNegInt).optional(),
    module_name_prefix: z.string().optional(),
    other_module_name: z.array(z.string()).optional(),
  })
  .strict();

export const compressionTraining = z
  .object({
    weight_quantization: weightQuantization.optional(),
    layer_reduction: layerReduction.optional(),
    activation_quantization: z.unknown().optional(),
    sparse_pruning: z.unknown().optional(),
    row_pruning: z.unknown().optional(),
    head_pruning: z.unknown().optional(),
    channel_pruning: z.unknown().optional(),
  })
  .strict();

/**
 * deepscale's `distillation` block (DeepSpeed takes the teacher as an argument of
 * init_compression; the toolkit reads it from the config):
 *   loss = alpha · T² · KL(softmax(teacher / T) ‖ softmax(student / T)) + (1 − alpha) · CE(labels)
 */
export const distillation = z
  .object({
    enabled: z.boolean().default(true),
    /** A training checkpoint dir (with its `latest`, or pick `teacher_tag`) or an exported model dir. */
    teacher: z.string().min(1),
    teacher_tag: z.string().optional(),
    temperature: num.positive().default(1),
    alpha: num.min(0).max(1).default(0.5),
  })
  .strict();

export type CompressionTrainingConfig = z.infer<typeof compressionTraining>;
export type WeightQuantizationConfig = z.infer<typeof weightQuantization>;
export type LayerReductionConfig = z.infer<typeof layerReduction>;
export type DistillationConfig = z.infer<typeof distillation>;

const NOT_BUILT: Record<string, string> = {
  activation_quantization: 'activations are not fake-quantized in training here (weights only: weight_quantization); served models quantize activations to 8 bits per 32 inside the kernels',
  sparse_pruning: 'pruning is not built',
  row_pruning: 'pruning is not built',
  head_pruning: 'pruning is not built',
  channel_pruning: 'pruning is not built',
};

/** The rules zod cannot state: refusals by name, start ≥ target bits, layer reduction's shape. */
export function checkCompression(ct: CompressionTrainingConfig | undefined, dist: DistillationConfig | undefined, where: string): void {
  if (ct) {
    for (const [k, why] of Object.entries(NOT_BUILT))
      if ((ct as Record<string, unknown>)[k] !== undefined) throw new ConfigError(`compression_training.${k}`, `not supported: ${why} (${where})`);
    const wq = ct.weight_quantization;
    if (wq) checkWeightQuantization(wq, where);
    const lr = ct.layer_reduction;
    if (lr?.enabled) {
      const at = 'compression_training.layer_reduction';
      if (lr.module_name_prefix !== undefined || lr.other_module_name !== undefined)
        throw new ConfigError(`${at}.${lr.module_name_prefix !== undefined ? 'module_name_prefix' : 'other_module_name'}`, `not supported: deepscale maps layers by their own names (model.layers.N); the embeddings, final norm and head are always copied from the teacher (${where})`);
      if (lr.keep_number_layer === undefined || lr.teacher_layer === undefined)
        throw new ConfigError(`${at}.${lr.keep_number_layer === undefined ? 'keep_number_layer' : 'teacher_layer'}`, `layer reduction needs keep_number_layer and teacher_layer (${where})`);
      if (lr.teacher_layer.length !== lr.keep_number_layer)
        throw new ConfigError(`${at}.teacher_layer`, `lists ${lr.teacher_layer.length} teacher layers for keep_number_layer ${lr.keep_number_layer} (${where})`);
      if (!dist?.enabled) throw new ConfigError(at, `layer reduction starts the student from a teacher's layers: give the distillation block's teacher (${where})`);
    }
  }
}

function checkWeightQuantization(wq: WeightQuantizationConfig, where: string): void {
  const sp = wq.shared_parameters;
  const at = 'compression_training.weight_quantization';
  if (!sp.enabled) return;
  if (sp.quantizer_kernel)
    throw new ConfigError(`${at}.shared_parameters.quantizer_kernel`, `not supported: it selects DeepSpeed's CUDA quantizer kernel; deepscale fake-quantizes on the host with the same formulas (set it false) (${where})`);
  if (!sp.quantize_weight_in_forward)
    throw new ConfigError(`${at}.shared_parameters.quantize_weight_in_forward`, `must be true: the optimizer keeps float32 weights, and DeepSpeed requires it with an FP32 optimizer (weights are fake-quantized in forward, gradients pass straight through) (${where})`);
  if (sp.group_size !== undefined && sp.quantize_groups !== 1)
    throw new ConfigError(`${at}.shared_parameters.group_size`, `give group_size (${sp.group_size}) or quantize_groups (${sp.quantize_groups}), not both (${where})`);
  const groups = Object.entries(wq.different_groups);
  if (groups.length === 0) throw new ConfigError(`${at}.different_groups`, `is empty: name at least one group of modules and its bits (${where})`);
  for (const [name, g] of groups) {
    if (g.related_modules !== undefined) throw new ConfigError(`${at}.different_groups.${name}.related_modules`, `not supported: each weight gets its own scales (${where})`);
    if (g.params.target_bits > g.params.start_bits)
      throw new ConfigError(`${at}.different_groups.${name}.params.target_bits`, `${g.params.target_bits} is above start_bits ${g.params.start_bits}: bits only step down (${where})`);
    for (const [i, m] of g.modules.entries()) {
      if (m === '*') continue;
      try {
        new RegExp(m);
      } catch {
        throw new ConfigError(`${at}.different_groups.${name}.modules[${i}]`, `${JSON.stringify(m)} is not a valid pattern (${where})`);
      }
    }
  }
}
