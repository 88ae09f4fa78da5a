import { describe, expect, it } from 'vitest';
import { makeModelConfig } from '../../src/models/config.ts';
import { buildLlama } from '../../src/models/llama.ts';
import { sliceValues, tensorParallelLlama, tpSlice } from '../../src/parallel/tensor_parallel.ts';
import { loadConfig } from '../../src/runtime/config/index.ts';

const config = makeModelConfig({ vocabSize: 103, hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 50, tieWordEmbeddings: true });

describe('tensor-parallel slices', () => {
  it('the slices of every tp rank tile each full parameter exactly once (shared parts once per group)', () => {
    const full = buildLlama(config);
    for (const tp of [2, 4]) {
      const ranks = Array.from({ length: tp }, (_, r) => tensorParallelLlama(config, tp, r).model);
      for (const spec of full.layers.flatMap((l) => l.params)) {
        const numel = spec.shape.reduce((a, b) => a * b, 1);
        // Fill the full tensor with its flat index, cut it up, and count every element back.
        const values = Float32Array.from({ length: numel }, (_, i) => i);
        const seen = new Uint8Array(numel);
        for (let r = 0; r < tp; r++) {
          const p = ranks[r]!.layers.flatMap((l) => l.params).find((q) => q.name === spec.name)!;
          expect(p.slice!.sharedBy).toContain(r);
          if (p.slice!.sharedBy[0] !== r) continue; // a shared part is counted on its first holder
          const part = sliceValues(values, p.slice!);
          expect(part.length).toBe(p.shape.reduce((a, b) => a * b, 1));
          for (const v of part) seen[v]!++;
        }
        expect(Math.min(...seen), spec.name).toBe(1);
        expect(Math.max(...seen), spec.name).toBe(1);
      }
    }
  });
  it('q heads and their kv head land on the same rank; 2 kv heads over 4 ranks are each replicated on 2', () => {
    const k = buildLlama(config).layers[1]!.params.find((p) => p.name.endsWith('k_proj.weight'))!;
    const Dh = config.headDim;
    expect([0, 1, 2, 3].map((r) => tpSlice(k, 4, r))).toEqual([0, 0, 1, 1].map((h) => ({ fullShape: [2 * Dh, 32], dim: 0, start: h * Dh, end: (h + 1) * Dh, sharedBy: h === 0 ? [0, 1] : [2, 3] })));
    // Vocabulary rows split unevenly (103 over 2): 51 + 52.
    const embed = tensorParallelLlama(config, 2, 1).model.layers[0]!.params[0]!;
    expect(embed.slice).toMatchObject({ start: 51, end: 103 });
    expect(embed.shape).toEqual([52, 32]);
  });
  it('heads, kv heads or a world that tp does not split are errors naming the numbers', () => {
    expect(() => tensorParallelLlama(makeModelConfig({ vocabSize: 50, hiddenSize: 48, numLayers: 1, numHeads: 6, numKvHeads: 6 }), 4, 0)).toThrow(/num_attention_heads 6 is not divisible by tensor parallel 4/);
    expect(() => tensorParallelLlama(makeModelConfig({ vocabSize: 50, hiddenSize: 48, numLayers: 1, numHeads: 12, numKvHeads: 3 }), 4, 0)).toThrow(/num_key_value_heads 3 is neither divisible by tensor parallel 4 nor a divisor of it/);
    expect(() => loadConfig({ train_micro_batch_size_per_gpu: 2, tensor_parallel: { autotp_size: 2 }, pipeline: { stages: 2 } }, { worldSize: 6 })).toThrow(/world size 6 is not divisible by tensor parallel 2 × pipeline stages 2 = 4/);
    expect(() => loadConfig({ train_micro_batch_size_per_gpu: 2, tensor_parallel: { autotp_size: 2 }, zero_optimization: { stage: 3 } }, { worldSize: 2 })).toThrow(/zero_optimization.stage: 3 with tensor_parallel.autotp_size 2: ZeRO-3/);
    expect(() => loadConfig({ train_micro_batch_size_per_gpu: 2, tensor_parallel: { autotp_size: 2 }, optimizer: { type: 'Lamb', params: { lr: 1e-3 } } }, { worldSize: 2 })).toThrow(/optimizer.type: Lamb with tensor_parallel.autotp_size 2: its trust ratio/);
  });
  it('the batch rule divides the world by tp × pp', () => {
    expect(loadConfig({ train_micro_batch_size_per_gpu: 4, gradient_accumulation_steps: 2, tensor_parallel: { autotp_size: 2 }, pipeline: { stages: 2 } }, { worldSize: 8 }).train_batch_size).toBe(16);
  });
});

describe('a rank draws only its own parameters', () => {
  it('Rng.skipNormals(n) lands where n normal() calls would', async () => {
    const { Rng } = await import('../../src/data/rng.ts');
    const a = new Rng(5);
    const b = new Rng(5);
    for (let i = 0; i < 1234; i++) a.normal();
    b.skipNormals(1234);
    expect(b.normal()).toBe(a.normal());
  });
  it('each tp rank of each stage starts from the whole model\'s seeded values, cut to its slice', async () => {
    const { FlatParams } = await import('../../src/runtime/engine/flat_params.ts');
    const { initializeLikeWholeModel } = await import('../../src/parallel/pipeline_setup.ts');
    const { stageModel, partitionLayers } = await import('../../src/parallel/partition.ts');
    const whole = FlatParams.forModel(buildLlama(config));
    whole.initialize(7);
    const bounds = partitionLayers(buildLlama(config).layers, 2, 'uniform');
    for (const tp of [1, 2, 4]) for (let r = 0; r < tp; r++) for (let s = 0; s < 2; s++) {
      const local = stageModel(tensorParallelLlama(config, tp, r).model, bounds, s);
      const flat = FlatParams.forModel(local);
      initializeLikeWholeModel(buildLlama(config), 7, { flat, stage: 0 } as never);
      for (const seg of flat.segments) expect(Array.from(flat.view(seg.name)), `${seg.name} tp ${r}/${tp}`).toEqual(Array.from(seg.slice ? sliceValues(whole.view(seg.name), seg.slice) : whole.view(seg.name)));
    }
  });
});
