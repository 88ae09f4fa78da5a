/**
 * The training model on the fused native kernels (wasm backend, addon live) against the same
 * model on tfjs-cpu, where every layer is a tfjs composition differentiated by tfjs (the path
 * test/models/training_model_reference.test.ts checks against float64): the same loss and the same
 * gradient for every parameter, with the layers' tapes kept and with them recomputed.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtime/backend/index.ts';
import { onBackend } from '../../src/runtime/backend/bench.ts';
import { makeModelConfig } from '../../src/models/config.ts';
import { buildLlama } from '../../src/models/llama.ts';
import { clearConstantCache } from '../../src/models/layers/constants.ts';
import { fusedLive } from '../../src/models/fused/index.ts';
import type { ModelConfig } from '../../src/models/types.ts';
import { FlatParams } from '../../src/runtime/engine/flat_params.ts';
import { forwardBackward, uploadParams, type MicroBatch } from '../../src/runtime/engine/executor.ts';
import { Rng } from '../../src/data/rng.ts';

const info = await initBackend({ force: 'wasm' });

const configs: [string, ModelConfig][] = [
  ['GQA 4/2, rotate-half, untied', makeModelConfig({ vocabSize: 37, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 40 })],
  ['GQA 6/2, adjacent, tied', makeModelConfig({ vocabSize: 29, hiddenSize: 48, numLayers: 1, numHeads: 6, numKvHeads: 2, intermediateSize: 56, ropeStyle: 'adjacent', tieWordEmbeddings: true })],
];

function randomBatch(B: number, T: number, V: number, seed: number): MicroBatch {
  const r = new Rng(seed);
  const input = Int32Array.from({ length: B * T }, () => r.int(V));
  const target = Int32Array.from({ length: B * T }, () => r.int(V));
  const mask = Float32Array.from({ length: B * T }, () => (r.next() < 0.75 ? 1 : 0));
  return { batchSize: B, seqLen: T, input, target, mask };
}

/** Loss and the gradient buffer of one forward/backward on the live backend. */
function step(config: ModelConfig, batch: MicroBatch, recompute: boolean): { loss: number; grads: Float32Array; flat: FlatParams } {
  const model = buildLlama(config);
  const flat = FlatParams.forModel(model);
  flat.initialize(7);
  for (let i = 0; i < flat.numel; i++) flat.data[i]! *= 10; // weights large enough that every path matters
  flat.zeroGrads();
  const params = uploadParams(flat);
  const denom = batch.mask.reduce((a, b) => a + b, 0);
  try {
    const { loss } = forwardBackward(model, flat, params, batch, denom, { recompute });
    return { loss, grads: flat.grads.slice(0, flat.numel), flat };
  } finally {
    tf.dispose([...params.values()]);
    clearConstantCache(); // rope tables belong to the backend that made them
  }
}

describe.skipIf(!fusedLive())(`the training model on the fused native kernels vs tfjs-cpu (${info.native.why})`, () => {
  for (const [label, config] of configs) {
    for (const recompute of [false, true]) {
      it(`${label}, ${recompute ? 'recomputed' : 'kept'} tapes: the same loss and parameter gradients`, async () => {
        const batch = randomBatch(2, 29, config.vocabSize, 11);
        const want = await onBackend('cpu', () => step(config, batch, recompute));
        const before = tf.memory().numTensors;
        const got = step(config, batch, recompute);
        expect(tf.memory().numTensors).toBe(before);
        expect(Math.abs(got.loss - want.loss)).toBeLessThan(1e-5 * Math.abs(want.loss));
        const gMax = want.grads.reduce((m, v) => Math.max(m, Math.abs(v)), 0);
        expect(gMax).toBeGreaterThan(0);
        for (const s of want.flat.segments) {
          let err = 0;
          for (let i = s.offset; i < s.offset + s.numel; i++) err = Math.max(err, Math.abs(got.grads[i]! - want.grads[i]!));
          // Both paths are float32: each sits ~1e-5·max|g| from float64 central differences in the
          // first layers (the weights are large), on either side, so they may differ by twice that.
          expect.soft(err / gMax, s.name).toBeLessThan(1e-4);
        }
      });
    }
  }
});
