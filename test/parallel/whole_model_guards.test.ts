/**
 * What a tensor-parallel rank or a pipeline stage must not do silently: train on token ids no
 * rank's vocabulary slice holds (the tp embedding gives zero rows for them, where the 1-rank
 * lookup throws), or run forwardLogits (evaluation, generation, sampling) on its part of the
 * model as if it were the whole.
 */
import * as tf from '@tensorflow/tfjs-core';
import { describe, expect, it } from 'vitest';
import { makeModelConfig } from '../../src/models/config.ts';
import { buildLlama } from '../../src/models/llama.ts';
import { partitionLayers, stageModel } from '../../src/parallel/partition.ts';
import { tensorParallelLlama } from '../../src/parallel/tensor_parallel.ts';
import { forwardLogits } from '../../src/runtime/engine/executor.ts';
import { FlatParams } from '../../src/runtime/engine/flat_params.ts';
import { uploadParams } from '../../src/runtime/engine/executor.ts';
import { closeAll, MODEL, startLayout } from './fixtures/pipe_ranks.ts';

const batch = (bad: number) => {
  const input = Int32Array.from({ length: 8 * 4 }, (_, i) => 3 + (i % 5));
  input[9] = bad;
  return { batchSize: 4, seqLen: 8, input, target: Int32Array.from(input, (x) => (x + 1) % MODEL.vocabSize), mask: new Float32Array(32).fill(1) };
};

describe('token ids outside the vocabulary', () => {
  it('are an error naming the id and its place on every rank of a tp group (they trained silently on zero rows)', async () => {
    const rts = await startLayout({ world: 2, stages: 1, tp: 2 });
    try {
      const r = await Promise.allSettled(rts.map((rt) => rt.engine.trainBatch(() => batch(MODEL.vocabSize))));
      for (const x of r) {
        expect(x.status).toBe('rejected');
        expect(String((x as PromiseRejectedResult).reason)).toMatch(new RegExp(`micro-batch 0: input token id ${MODEL.vocabSize} at position 9 \\(sequence 1, token 1\\) is outside the model's vocabulary \\[0, ${MODEL.vocabSize}\\)`));
      }
      const e = await Promise.allSettled(rts.map((rt) => rt.engine.evalBatch(batch(-1))));
      for (const x of e) expect(String((x as PromiseRejectedResult).reason)).toMatch(/Engine.evalBatch: input token id -1 at position 9/);
      // A good batch still trains on both ranks afterwards (nothing was left half-done).
      const ok = await Promise.all(rts.map((rt) => rt.engine.trainBatch(() => batch(4))));
      expect(ok[0]!.loss).toBeCloseTo(ok[1]!.loss, 6);
    } finally {
      await closeAll(rts);
    }
  }, 60_000);
});

describe('forwardLogits on part of the model', () => {
  const config = makeModelConfig({ vocabSize: 40, hiddenSize: 16, numLayers: 2, numHeads: 2, numKvHeads: 2, intermediateSize: 24 });
  const run = (model: ReturnType<typeof buildLlama>) => {
    const flat = FlatParams.forModel(model);
    flat.initialize(1);
    const params = uploadParams(flat);
    try {
      const out = forwardLogits(model, params, tf.tensor2d([[1, 2, 3]], [1, 3], 'int32'));
      const shape = out.shape;
      out.dispose();
      return shape;
    } finally {
      tf.dispose([...params.values()]);
    }
  };
  it('the whole model gives [B, T, V]', () => {
    expect(run(buildLlama(config))).toEqual([1, 3, 40]);
  });
  it("refuses a tensor-parallel rank's slices (it gave its vocabulary slice's logits, without the all-reduces)", () => {
    expect(() => run(tensorParallelLlama(config, 2, 0).model)).toThrow(/tensor-parallel rank's part of it/);
  });
  it("refuses a pipeline stage's layers (stage 0 gave its hidden state as logits)", () => {
    const full = buildLlama(config);
    const bounds = partitionLayers(full.layers, 2, 'uniform');
    expect(() => run(stageModel(full, bounds, 0))).toThrow(/not the \[B, T, 40\] logits of the whole model/);
    expect(() => run(stageModel(full, bounds, 1))).toThrow(/starts at layers\.\d\.(attn|mlp)/);
  });
});
