import { describe, expect, it } from 'vitest';
import { buildLlama } from '../../src/models/llama.ts';
import { makeModelConfig } from '../../src/models/config.ts';
import { partitionLayers } from '../../src/parallel/partition.ts';
import { loadConfig } from '../../src/runtime/config/index.ts';
import { ConfigError } from '../../src/errors.ts';

const model = buildLlama(makeModelConfig({ vocabSize: 500, hiddenSize: 32, numLayers: 4, numHeads: 4, numKvHeads: 2, intermediateSize: 48, tieWordEmbeddings: false }));
const weights = model.layers.map((l) => l.params.reduce((n, p) => n + p.shape.reduce((a, b) => a * b, 1), 0));
const loads = (b: number[]) => b.slice(1).map((end, s) => weights.slice(b[s], end).reduce((a, c) => a + c, 0));

describe('partitionLayers', () => {
  it('uniform: contiguous slices of nearly equal layer counts covering the list', () => {
    expect(partitionLayers(model.layers, 4, 'uniform')).toEqual([0, 3, 5, 8, 10]);
  });
  it('parameters: no stage heavier than the best contiguous split, every stage non-empty', () => {
    for (const P of [2, 3, 4, 5]) {
      const b = partitionLayers(model.layers, P, 'parameters');
      expect(b[0]).toBe(0);
      expect(b[P]).toBe(model.layers.length);
      for (let s = 0; s < P; s++) expect(b[s + 1]!).toBeGreaterThan(b[s]!);
      // Brute force over every contiguous split for the optimum of the heaviest stage.
      let best = Infinity;
      const rec = (start: number, left: number, worst: number): void => {
        if (left === 1) {
          best = Math.min(best, Math.max(worst, weights.slice(start).reduce((a, c) => a + c, 0)));
          return;
        }
        for (let end = start + 1; end <= weights.length - left + 1; end++) rec(end, left - 1, Math.max(worst, weights.slice(start, end).reduce((a, c) => a + c, 0)));
      };
      rec(0, P, 0);
      expect(Math.max(...loads(b))).toBe(best);
    }
  });
  it('refuses more stages than layers, naming both', () => {
    expect(() => partitionLayers(model.layers, 11, 'uniform')).toThrow(/11 stages for a model of 10 layers/);
  });
});

describe('pipeline config', () => {
  it('the batch rule uses the data-parallel size, not the world', () => {
    const c = loadConfig({ train_micro_batch_size_per_gpu: 4, gradient_accumulation_steps: 2, pipeline: { stages: 2 } }, { worldSize: 4 });
    expect(c.train_batch_size).toBe(16); // 4 × 2 × (4 ranks / 2 stages)
  });
  it('a world the stages do not divide is a ConfigError naming the numbers', () => {
    expect(() => loadConfig({ train_batch_size: 8, pipeline: { stages: 3 } }, { worldSize: 4 })).toThrow(/world size 4 is not divisible by tensor parallel 1 × pipeline stages 3 = 3/);
  });
  it('refuses at load what pipeline stages do not combine with yet, by key', () => {
    const load = (extra: object) => () => loadConfig({ train_micro_batch_size_per_gpu: 2, gradient_accumulation_steps: 2, pipeline: { stages: 2 }, ...extra }, { worldSize: 2 });
    expect(load({ gradient_clipping: 1 })).not.toThrow(); // the norm is summed over the stages (test/parallel/clip.test.ts)
    expect(load({ pipeline: { stages: 2, micro_batches: 4 } })).toThrow(/micro_batches: is 4, but a pipeline step runs gradient_accumulation_steps \(2\)/);
    expect(load({ pipeline: { stages: 2, partition_method: 'type' } })).toThrow(/use "parameters" or "uniform"/);
    expect(load({ zero_optimization: { stage: 2 } })).toThrow(/zero_optimization.stage: ZeRO-2 and ZeRO-3 are incompatible with pipeline parallelism \(stage 2, pipeline.stages 2\)/);
    expect(load({ train: { eval_every: 5 } })).not.toThrow(); // evaluation runs through the stages (engine.evalBatch)
    expect(load({ train: { checkpoint: { save_every: 5 } } })).not.toThrow(); // per-stage checkpoints (test/parallel/checkpoint.test.ts)
    expect(load({})).not.toThrow();
  });
});
