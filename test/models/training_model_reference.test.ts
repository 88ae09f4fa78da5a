/**
 * The training model (tfjs layers, layer-wise backward) against an independent float64
 * reference (test/helpers/reference_llama.ts, plain TypeScript, no tfjs):
 *   - its logits equal the reference's;
 *   - its gradients equal central finite differences of the reference's loss, in float64.
 * Small random configs with GQA and both rope styles, tied and untied embeddings.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { beforeAll, describe, expect, it } from 'vitest';
import { makeModelConfig } from '../../src/models/config.ts';
import { buildLlama } from '../../src/models/llama.ts';
import type { ModelConfig } from '../../src/models/types.ts';
import type { HostTensor } from '../../src/inference/loaders/types.ts';
import { FlatParams } from '../../src/runtime/engine/flat_params.ts';
import { forwardBackward, forwardLogits, uploadParams, type MicroBatch } from '../../src/runtime/engine/executor.ts';
import { referenceForward } from '../helpers/reference_llama.ts';
import { rng } from '../helpers/random_llama.ts';

const configs: [string, ModelConfig][] = [
  ['GQA 4/2, rotate-half, untied', makeModelConfig({ vocabSize: 19, hiddenSize: 16, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 24 })],
  ['GQA 6/2, adjacent, tied', makeModelConfig({ vocabSize: 13, hiddenSize: 24, numLayers: 1, numHeads: 6, numKvHeads: 2, intermediateSize: 32, ropeStyle: 'adjacent', tieWordEmbeddings: true })],
];

/** The flat parameters as float64 HostTensors (the reference only indexes `data`, so float64 passes through). */
function weights64(flat: FlatParams): Map<string, HostTensor & { data64: Float64Array }> {
  const out = new Map<string, HostTensor & { data64: Float64Array }>();
  for (const s of flat.segments) {
    const data64 = Float64Array.from(flat.data.subarray(s.offset, s.offset + s.numel));
    out.set(s.name, { shape: [...s.shape], data: data64 as unknown as Float32Array, data64 });
  }
  return out;
}

/** Masked mean cross entropy of the float64 reference over a batch, divided by `denom`. */
function referenceLoss(config: ModelConfig, w: Map<string, HostTensor>, b: MicroBatch, denom: number): number {
  let sum = 0;
  for (let i = 0; i < b.batchSize; i++) {
    const ids = Array.from(b.input.subarray(i * b.seqLen, (i + 1) * b.seqLen));
    const logits = referenceForward({ config, weights: w }, ids);
    logits.forEach((row, t) => {
      const k = i * b.seqLen + t;
      if (!b.mask[k]) return;
      const max = Math.max(...row);
      let z = 0;
      for (const v of row) z += Math.exp(v - max);
      sum += max + Math.log(z) - row[b.target[k]!]!;
    });
  }
  return sum / denom;
}

function randomBatch(B: number, T: number, V: number, seed: number): MicroBatch {
  const r = rng(seed);
  const input = new Int32Array(B * T).map(() => Math.floor(r.uniform() * V));
  const target = new Int32Array(B * T).map(() => Math.floor(r.uniform() * V));
  const mask = new Float32Array(B * T).map(() => (r.uniform() < 0.75 ? 1 : 0));
  return { batchSize: B, seqLen: T, input, target, mask };
}

describe('training model vs the float64 reference', () => {
  beforeAll(async () => {
    await tf.setBackend('cpu');
  });

  for (const [label, config] of configs) {
    const model = buildLlama(config);
    const flat = FlatParams.forModel(model);
    flat.initialize(3);
    for (let i = 0; i < flat.numel; i++) flat.data[i]! *= 15; // weights large enough that every path matters

    it(`logits equal the reference (${label})`, () => {
      const ids = [3, 1, 4, 1, 5, 9, 2].map((x) => x % config.vocabSize);
      const params = uploadParams(flat);
      const t = forwardLogits(model, params, tf.tensor2d(ids, [1, ids.length], 'int32'));
      const got = t.dataSync();
      tf.dispose([t, ...params.values()]);
      const want = referenceForward({ config, weights: weights64(flat) }, ids);
      let maxErr = 0;
      let maxAbs = 0;
      want.forEach((row, p) => row.forEach((v, j) => {
        maxErr = Math.max(maxErr, Math.abs(got[p * config.vocabSize + j]! - v));
        maxAbs = Math.max(maxAbs, Math.abs(v));
      }));
      expect(maxAbs).toBeGreaterThan(0.5);
      expect(maxErr / maxAbs).toBeLessThan(1e-5);
    });

    it(`gradients equal float64 central differences of the reference loss (${label})`, () => {
      const batch = randomBatch(2, 5, config.vocabSize, 17);
      const denom = batch.mask.reduce((a, b) => a + b, 0);
      flat.zeroGrads();
      const params = uploadParams(flat);
      forwardBackward(model, flat, params, batch, denom);
      tf.dispose([...params.values()]);
      const w = weights64(flat);
      const r = rng(5);
      const h = 1e-5;
      // float32 autograd carries rounding at the scale of the largest gradients, not of each one.
      const gAll = flat.grads.subarray(0, flat.numel).reduce((m, v) => Math.max(m, Math.abs(v)), 0);
      // Six coordinates of every parameter (every layer kind, norms included).
      for (const s of flat.segments) {
        const g = flat.gradView(s.name);
        const x = w.get(s.name)!.data64;
        for (let n = 0; n < 6; n++) {
          const i = Math.floor(r.uniform() * s.numel);
          const x0 = x[i]!;
          x[i] = x0 + h;
          const up = referenceLoss(config, w, batch, denom);
          x[i] = x0 - h;
          const down = referenceLoss(config, w, batch, denom);
          x[i] = x0;
          const fd = (up - down) / (2 * h);
          expect(Math.abs(g[i]! - fd), `${s.name}[${i}]: autograd ${g[i]}, finite difference ${fd}`).toBeLessThan(1e-5 * gAll + 1e-3 * Math.abs(fd));
        }
      }
    });
  }
});
