import { describe, expect, it, beforeAll } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildLlama } from '../../../src/models/llama.ts';
import { makeModelConfig } from '../../../src/models/config.ts';
import { maskedCrossEntropy } from '../../../src/models/loss.ts';
import { applyLayer } from '../../../src/models/ops.ts';
import { FlatParams } from '../../../src/runtime/engine/flat_params.ts';
import { forwardBackward, uploadParams, type MicroBatch } from '../../../src/runtime/engine/executor.ts';
import type { ModelConfig } from '../../../src/models/types.ts';

function randomBatch(B: number, T: number, V: number, seed: number): MicroBatch {
  let s = seed;
  const r = () => ((s = (s * 1103515245 + 12345) >>> 0) % 1000003) / 1000003;
  const input = new Int32Array(B * T).map(() => Math.floor(r() * V));
  const target = new Int32Array(B * T).map(() => Math.floor(r() * V));
  const mask = new Float32Array(B * T).map(() => (r() < 0.7 ? 1 : 0));
  return { batchSize: B, seqLen: T, input, target, mask };
}

/** Reference: one tf.grads over the whole model, all parameters at once. */
function wholeModelGrads(config: ModelConfig, flat: FlatParams, batch: MicroBatch, denom: number): Map<string, Float32Array> {
  const model = buildLlama(config);
  const params = uploadParams(flat);
  const names = flat.segments.map((s) => s.name);
  const { B, T, V } = { B: batch.batchSize, T: batch.seqLen, V: config.vocabSize };
  const f = (...ps: tf.Tensor[]) => {
    const pm = new Map(names.map((n, i) => [n, ps[i]!]));
    let x: tf.Tensor = tf.tensor2d(batch.input, [B, T], 'int32');
    const ctx = { config, positionOffset: 0, training: true };
    for (const layer of model.layers) {
      const p: Record<string, tf.Tensor> = {};
      for (const s of layer.params) p[s.name] = pm.get(s.name)!;
      x = applyLayer(layer, p, x, ctx);
    }
    return maskedCrossEntropy(tf.reshape(x, [B * T, V]) as tf.Tensor2D, tf.tensor1d(batch.target, 'int32'), tf.tensor1d(batch.mask), denom);
  };
  const g = tf.grads(f)(names.map((n) => params.get(n)!));
  const out = new Map(names.map((n, i) => [n, g[i]!.dataSync() as Float32Array]));
  tf.dispose(g);
  tf.dispose([...params.values()]);
  return out;
}

const configs: [string, ModelConfig][] = [
  ['MHA, rotate-half, untied', makeModelConfig({ vocabSize: 23, hiddenSize: 16, numLayers: 2, numHeads: 4, intermediateSize: 24 })],
  ['GQA, adjacent, tied', makeModelConfig({ vocabSize: 17, hiddenSize: 24, numLayers: 1, numHeads: 6, numKvHeads: 2, ropeStyle: 'adjacent', tieWordEmbeddings: true })],
  ['MQA', makeModelConfig({ vocabSize: 11, hiddenSize: 16, numLayers: 2, numHeads: 4, numKvHeads: 1 })],
];

describe('layer-by-layer backward', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const [label, config] of configs) for (const recompute of [false, true]) {
    it(`equals one tf.grads over the whole model (${label}, recompute=${recompute})`, () => {
      const model = buildLlama(config);
      const flat = FlatParams.forModel(model);
      flat.initialize(7);
      // Larger weights than the init so every path carries signal.
      for (let i = 0; i < flat.numel; i++) flat.data[i]! *= 10;
      const batch = randomBatch(3, 5, config.vocabSize, 11);
      const params = uploadParams(flat);
      const { loss } = forwardBackward(model, flat, params, batch, 9, { recompute });
      tf.dispose([...params.values()]);
      expect(Number.isFinite(loss)).toBe(true);
      const ref = wholeModelGrads(config, flat, batch, 9);
      for (const s of flat.segments) {
        const got = flat.gradView(s.name);
        const want = ref.get(s.name)!;
        let num = 0;
        let den = 0;
        for (let i = 0; i < want.length; i++) {
          num += (got[i]! - want[i]!) ** 2;
          den += want[i]! ** 2;
        }
        expect(Math.sqrt(num / Math.max(den, 1e-30)), s.name).toBeLessThan(1e-5);
      }
    });
  }

  for (const recompute of [false, true]) it(`does not grow tf.memory().numTensors over 10 steps (recompute=${recompute})`, () => {
    const config = configs[1]![1];
    const model = buildLlama(config);
    const flat = FlatParams.forModel(model);
    flat.initialize(1);
    const step = () => {
      const params = uploadParams(flat);
      forwardBackward(model, flat, params, randomBatch(2, 4, config.vocabSize, 3), 8, { recompute });
      tf.dispose([...params.values()]);
    };
    step();
    const before = tf.memory().numTensors;
    for (let i = 0; i < 10; i++) step();
    expect(tf.memory().numTensors).toBe(before);
  });
});
