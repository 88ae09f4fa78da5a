/**
 * compression_training and distillation: DeepSpeed's keys honoured or refused by JSON path;
 * bits outside 1-8 and module patterns that match nothing are errors.
 */
import { describe, expect, it } from 'vitest';
import { loadConfig, modelConfigFromDs } from '../../src/runtime/config/index.ts';
import { planWeightQuantization } from '../../src/compress/quantize/qat_plan.ts';
import { buildLlama } from '../../src/models/llama.ts';
import { ConfigError } from '../../src/errors.ts';
import { TINY } from '../zero/helpers.ts';

const wq = (shared: Record<string, unknown>, groups: Record<string, unknown> = { g: { params: { start_bits: 8, target_bits: 4 }, modules: ['mlp'] } }) => ({
  compression_training: { weight_quantization: { shared_parameters: { enabled: true, quantize_weight_in_forward: true, ...shared }, different_groups: groups } },
});
const load = (extra: Record<string, unknown>) => loadConfig({ train_micro_batch_size_per_gpu: 2, ...extra }, { dpWorldSize: 1 });

function refusal(extra: Record<string, unknown>): ConfigError {
  try {
    const cfg = load(extra);
    const w = cfg.compression_training?.weight_quantization;
    if (w) planWeightQuantization(w, buildLlama(TINY));
  } catch (e) {
    expect(e).toBeInstanceOf(ConfigError);
    return e as ConfigError;
  }
  throw new Error(`accepted ${JSON.stringify(extra)}`);
}

describe('compression_training: honoured or refused by name', () => {
  it("DeepSpeed's weight_quantization block is accepted with its defaults and plans the matched weights", () => {
    const cfg = load(wq({ quantization_type: 'asymmetric', rounding: 'stochastic', schedule_offset: 5, quantize_groups: 2 }));
    const plan = planWeightQuantization(cfg.compression_training!.weight_quantization!, buildLlama(TINY))!;
    expect([...plan.params.keys()].sort()).toEqual([0, 1].flatMap((l) => ['down_proj', 'gate_proj', 'up_proj'].map((p) => `model.layers.${l}.mlp.${p}.weight`)).sort());
    expect(plan.symmetric).toBe(false);
    expect(plan.offset).toBe(5);
    expect(plan.groupSizeOf([24, 16])).toBe(192);
  });

  it('bits outside 1..8 name their path', () => {
    for (const [k, v] of [['start_bits', 9], ['target_bits', 0]] as const) {
      const e = refusal(wq({}, { g: { params: { start_bits: 8, target_bits: 4, [k]: v }, modules: ['mlp'] } }));
      expect(e.path).toBe(`compression_training.weight_quantization.different_groups.g.params.${k}`);
    }
    expect(refusal(wq({}, { g: { params: { start_bits: 4, target_bits: 8 }, modules: ['mlp'] } })).message).toMatch(/target_bits: 8 is above start_bits 4/);
  });

  it('a modules pattern that matches no weight names the pattern and lists the weights', () => {
    const e = refusal(wq({}, { g: { params: { start_bits: 8, target_bits: 8 }, modules: ['mlp', 'attention.self'] } }));
    expect(e.path).toBe('compression_training.weight_quantization.different_groups.g.modules[1]');
    expect(e.message).toMatch(/"attention\.self" matches no weight of the model \(its weights: model\.embed_tokens, model\.layers\.0\.self_attn\.q_proj/);
  });

  it('keys with no meaning here are refused with the reason', () => {
    const cases: [Record<string, unknown>, string, RegExp][] = [
      [wq({ quantizer_kernel: true }), 'compression_training.weight_quantization.shared_parameters.quantizer_kernel', /CUDA quantizer kernel/],
      [wq({ quantize_weight_in_forward: false }), 'compression_training.weight_quantization.shared_parameters.quantize_weight_in_forward', /must be true.*FP32 optimizer/],
      [{ compression_training: { activation_quantization: { shared_parameters: { enabled: true } } } }, 'compression_training.activation_quantization', /not supported: activations are not fake-quantized/],
      [{ compression_training: { sparse_pruning: {} } }, 'compression_training.sparse_pruning', /pruning is not built/],
      [wq({}, { g: { params: { start_bits: 8, target_bits: 8 }, modules: ['mlp'], related_modules: [['x']] } }), 'compression_training.weight_quantization.different_groups.g.related_modules', /own scales/],
      [wq({ group_size: 8, quantize_groups: 2 }), 'compression_training.weight_quantization.shared_parameters.group_size', /not both/],
      [{ compression_training: { layer_reduction: { enabled: true, keep_number_layer: 2, teacher_layer: [0, 1] } } }, 'compression_training.layer_reduction', /give the distillation block's teacher/],
      [{ compression_training: { layer_reduction: { enabled: true, keep_number_layer: 2, teacher_layer: [0] } }, distillation: { teacher: 'x' } }, 'compression_training.layer_reduction.teacher_layer', /lists 1 teacher layers for keep_number_layer 2/],
      [{ compression_training: { layer_reduction: { enabled: true, keep_number_layer: 1, teacher_layer: [0], module_name_prefix: 'bert.encoder.layer' } }, distillation: { teacher: 'x' } }, 'compression_training.layer_reduction.module_name_prefix', /maps layers by their own names/],
    ];
    for (const [extra, path, why] of cases) {
      const e = refusal(extra);
      expect(e.path).toBe(path);
      expect(e.message).toMatch(why);
    }
  });

  it('a misspelt key is refused by name (strict blocks)', () => {
    expect(refusal(wq({ quantize_group: 2 })).message).toMatch(/quantize_group/);
    expect(refusal({ distillation: { teacher: 'x', temprature: 2 } }).message).toMatch(/temprature/);
  });

  it('a group size that does not divide a weight is named with the weight', () => {
    expect(refusal(wq({ group_size: 7 })).message).toMatch(/group_size: 7 does not divide the rows of model\.layers\.0\.mlp\.gate_proj\.weight \[24, 16\]/);
  });

  it('the example configs validate, and configs/qat.json5 plans every weight matrix of its model', () => {
    for (const f of ['configs/qat.json5', 'configs/distill.json5', 'configs/distill_teacher.json5']) expect(loadConfig(f, { dpWorldSize: 1 }).source).toBe(f);
    const cfg = loadConfig('configs/qat.json5', { dpWorldSize: 1 });
    const model = buildLlama(modelConfigFromDs(cfg, 42, { bos: 1, eos: 2 }));
    const plan = planWeightQuantization(cfg.compression_training!.weight_quantization!, model)!;
    expect(plan.params.size).toBe(1 + 7 * 2);
    expect(plan.groupSizeOf([128, 384])).toBe(32);
  });
});
