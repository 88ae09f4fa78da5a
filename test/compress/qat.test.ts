/**
 * Quantization-aware training: the forward sees fake-quantized weights, the gradient lands on the
 * float weights as if quantization were the identity (straight-through), every ZeRO stage gives
 * the curve of one rank, and the bits follow DeepSpeed's schedule.
 */
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildLlama } from '../../src/models/llama.ts';
import { loadConfig } from '../../src/runtime/config/index.ts';
import { createZeroStage } from '../../src/zero/index.ts';
import { createOptimizer } from '../../src/runtime/optim/index.ts';
import { FlatParams } from '../../src/runtime/engine/flat_params.ts';
import { forwardBackward, forwardBackwardWith, uploadParams } from '../../src/runtime/engine/executor.ts';
import { planWeightQuantization, bitsAt, floatShareAt } from '../../src/compress/quantize/qat_plan.ts';
import { withWeightQuantization } from '../../src/compress/quantize/qat.ts';
import { fakeQuantize } from '../../src/compress/quantize/formulas.ts';
import { AdditionTask, taskBatches } from '../../src/data/index.ts';
import { lossCurve, relDiff, TINY, zeroConfig } from '../zero/helpers.ts';

const qat = (groups: Record<string, unknown>, shared: Record<string, unknown> = {}) => ({
  compression_training: {
    weight_quantization: {
      shared_parameters: { enabled: true, quantize_weight_in_forward: true, group_size: 8, ...shared },
      different_groups: groups,
    },
  },
});
const ATTN_MLP = { wq1: { params: { start_bits: 3, target_bits: 3 }, modules: ['self_attn', 'mlp'] } };

function batch() {
  const task = new AdditionTask({ digits: 2 });
  const seqLen = task.maxChars + 1;
  return { ...taskBatches({ task, seqLen, batchSize: 4, seed: 5, rank: 0, worldSize: 1 }).next().value, batchSize: 4, seqLen };
}

describe('QAT: straight-through estimator', () => {
  for (const recompute of [false, true]) {
    it(`loss and gradients equal a plain backward at the fake-quantized weights (recompute ${recompute})`, async () => {
      await tf.setBackend('cpu');
      const cfg = loadConfig({ train_micro_batch_size_per_gpu: 4, backend: 'cpu', ...qat(ATTN_MLP) }, { dpWorldSize: 1 });
      const model = buildLlama(TINY);
      const stage = await createZeroStage(cfg.zero_optimization, { pg: null, rank: 0, worldSize: 1, model, seed: 3, wire: 'fp32', createOptimizer: (n) => createOptimizer(undefined, n) });
      const plan = planWeightQuantization(cfg.compression_training!.weight_quantization!, model)!;
      expect([...plan.params.keys()].sort()).toEqual(stage.flat.segments.filter((s) => /self_attn|mlp/.test(s.name)).map((s) => s.name).sort());
      const mb = batch();
      const wrapped = withWeightQuantization(stage, plan, () => 0, 1);
      const warm = wrapped.beginStep(); // tfjs makes some tensors once, on first use
      await forwardBackwardWith(model, warm, mb, 20, { recompute });
      warm.close();
      const before = tf.memory().numTensors;
      const hooks = wrapped.beginStep();
      const got = await forwardBackwardWith(model, hooks, mb, 20, { recompute });
      hooks.close();
      expect(tf.memory().numTensors).toBe(before);

      // Reference: copy the weights, fake-quantize the planned ones at 3 bits, run the plain executor.
      const ref = FlatParams.forModel(model);
      ref.data.set(stage.flat.data.subarray(0, ref.numel));
      for (const name of plan.params.keys()) {
        const s = ref.segment(name);
        ref.view(name).set(fakeQuantize(ref.view(name), s.shape, { bits: 3, groupSize: 8, symmetric: true }));
      }
      const params = uploadParams(ref);
      const want = forwardBackward(model, ref, params, mb, 20);
      tf.dispose([...params.values()]);
      expect(got.loss).toBeCloseTo(want.loss, 6);
      let worst = 0;
      for (let i = 0; i < ref.numel; i++) worst = Math.max(worst, Math.abs(stage.flat.grads[i]! - ref.grads[i]!));
      expect(worst).toBeLessThan(1e-6);
      // The float weights are untouched by the forward: quantization lives in the copies.
      const w = stage.flat.view('model.layers.0.self_attn.q_proj.weight');
      expect(Array.from(w)).not.toEqual(Array.from(ref.view('model.layers.0.self_attn.q_proj.weight')));
    });
  }
});

describe('QAT: every ZeRO stage gives the curve of one rank', () => {
  const STEPS = 6;
  it('stage 0 at 1 rank = stages 2 and 3 at 2 ranks, and differs from training without QAT', async () => {
    const extra = qat({ wq1: { params: { start_bits: 4, target_bits: 2, quantization_period: 3 }, modules: ['*'] } }, { schedule_offset: 1 });
    const one = await lossCurve(1, zeroConfig(1, 2, { stage: 0 }, extra), STEPS);
    const plain = await lossCurve(1, zeroConfig(1, 2, { stage: 0 }), STEPS);
    // Step 1 runs before schedule_offset: float weights, the plain curve; later steps do not.
    expect(one[0]).toBeCloseTo(plain[0]!, 6);
    expect(Math.abs(one[STEPS - 1]! - plain[STEPS - 1]!)).toBeGreaterThan(1e-3);
    for (const stage of [2, 3]) {
      const two = await lossCurve(2, zeroConfig(2, 1, { stage, reduce_bucket_size: 300, stage3_param_persistence_threshold: 0 }, extra), STEPS);
      expect(relDiff(two, one)).toBeLessThan(1e-5);
    }
  }, 120_000);
});

describe('QAT: the bit schedule', () => {
  it('float before schedule_offset, then start_bits, one bit fewer every quantization_period steps, down to target_bits', () => {
    const g = { name: 'g', startBits: 8, targetBits: 4, period: 10 };
    const at = (s: number) => bitsAt(g, 100, s);
    expect([at(0), at(99), at(100), at(109), at(110), at(139), at(140), at(1000)]).toEqual([null, null, 8, 8, 7, 5, 4, 4]);
  });

  it('fp16_mixed_quantize: the forward mixes in less of the float weight each step after the offset', () => {
    const cfg = loadConfig({ train_micro_batch_size_per_gpu: 4, ...qat(ATTN_MLP, { schedule_offset: 10, fp16_mixed_quantize: { enabled: true, quantize_change_ratio: 0.25 } }) }, { dpWorldSize: 1 });
    const plan = planWeightQuantization(cfg.compression_training!.weight_quantization!, buildLlama(TINY))!;
    expect([10, 11, 12, 14, 20].map((s) => floatShareAt(plan, s))).toEqual([1, 0.75, 0.5, 0, 0]);
  });
});
