// The kernels training runs, on the webgpu backend against the cpu backend (on lavapipe in CI:
// correctness only). Every kernel runs on the GPU here: tfjs-webgpu's hand-off of small ops to
// the CPU is switched off. Skips, with the reason in the suite name, where there is no adapter.
import { beforeAll, describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { buildBackendReport, initBackend } from '../../../src/runtime/backend/index.ts';
import { buildLlama } from '../../../src/models/llama.ts';
import { makeModelConfig, type ModelConfigInput } from '../../../src/models/config.ts';
import { maskedCrossEntropy } from '../../../src/models/loss.ts';
import { forwardLogits } from '../../../src/runtime/engine/executor.ts';
import { gpuSkipReason, gpuTitle } from '../../inference/webgpu/gpu_available.ts';

function rnd(n: number, seed: number): number[] {
  let s = seed;
  return Array.from({ length: n }, () => ((s = (s * 48271) % 2147483647) / 2147483647) * 2 - 1);
}

/**
 * Runs f on cpu, then on webgpu, with the same inputs; returns each output's values and shapes.
 * cpu first: the decoder caches its rope tables and causal masks across calls (src/models/layers/
 * constants.ts), and a tensor made on cpu moves to webgpu, while one made on the GPU cannot be
 * read back synchronously.
 */
async function both(f: () => tf.Tensor | tf.Tensor[]): Promise<{ gpu: Float32Array[]; cpu: Float32Array[]; shapes: [number[][], number[][]] }> {
  const values: Float32Array[][] = [];
  const shapes: number[][][] = [];
  for (const b of ['cpu', 'webgpu']) {
    await tf.setBackend(b);
    const r = tf.tidy(f);
    const rs = Array.isArray(r) ? r : [r];
    values.push(await Promise.all(rs.map(async (t) => Float32Array.from(await t.data()))));
    shapes.push(rs.map((t) => t.shape));
    tf.dispose(rs);
  }
  return { gpu: values[1]!, cpu: values[0]!, shapes: [shapes[1]!, shapes[0]!] };
}

/** Largest |gpu − cpu| over all outputs, relative to the largest |cpu| of each. */
function relErr(r: { gpu: Float32Array[]; cpu: Float32Array[]; shapes: [number[][], number[][]] }): number {
  expect(r.shapes[0]).toEqual(r.shapes[1]);
  let worst = 0;
  r.gpu.forEach((g, i) => {
    const c = r.cpu[i]!;
    let d = 0;
    let m = 1e-30;
    for (let j = 0; j < c.length; j++) {
      d = Math.max(d, Math.abs(g[j]! - c[j]!));
      m = Math.max(m, Math.abs(c[j]!));
    }
    worst = Math.max(worst, d / m);
  });
  return worst;
}

describe.skipIf(gpuSkipReason !== null)(gpuTitle('webgpu training kernels against the cpu backend'), () => {
  beforeAll(async () => {
    expect((await initBackend({ force: 'webgpu' })).name).toBe('webgpu');
    tf.env().set('WEBGPU_CPU_HANDOFF_SIZE_THRESHOLD', 0);
  });

  it('ds report: webgpu live, on which adapter, with the kernels deepscale replaces', async () => {
    const r = await buildBackendReport();
    expect(r.backend).toBe('webgpu');
    expect(r.webgpu.live).toBe(true);
    expect(r.reason).toContain(`live on ${r.webgpu.adapter!.description}`);
    expect(r.kernels.map((k) => k.kernel)).toEqual(['webgpu:UnsortedSegmentSum', 'webgpu:GatherV2', 'grad:Einsum']);
    expect(r.versions['@tensorflow/tfjs-backend-webgpu']).toMatch(/^4\./);
  });

  const matmuls: [number[], number[], boolean, boolean][] = [
    [[33, 17], [17, 9], false, false],
    [[17, 33], [17, 9], true, false],
    [[33, 17], [9, 17], false, true], // x · Wᵀ
    [[17, 33], [9, 17], true, true],
    [[2, 3, 8, 13], [2, 3, 5, 8], true, true],
    [[1, 13, 8], [4, 8, 5], false, false], // broadcast batch
    [[2, 4, 16, 8], [2, 4, 16, 8], false, true], // attention scores
  ];
  for (const [sa, sb, ta, tb] of matmuls) {
    it(`BatchMatMul [${sa}]·[${sb}] transposeA=${ta} transposeB=${tb}`, async () => {
      const a = rnd(sa.reduce((x, y) => x * y, 1), 5);
      const b = rnd(sb.reduce((x, y) => x * y, 1), 6);
      expect(relErr(await both(() => tf.matMul(tf.tensor(a, sa), tf.tensor(b, sb), ta, tb)))).toBeLessThan(1e-6);
    });
  }

  it('gather and its gradient (UnsortedSegmentSum), repeated ids', async () => {
    const table = rnd(50 * 16, 2);
    const ids = Array.from({ length: 24 }, (_, i) => (i * 7) % 13);
    const dy = rnd(24 * 16, 3);
    const f = () => {
      const t = tf.tensor2d(table, [50, 16]);
      const g = tf.grad((w: tf.Tensor) => tf.sum(tf.mul(tf.gather(w, tf.tensor2d(ids, [4, 6], 'int32')), tf.tensor3d(dy, [4, 6, 16]))))(t);
      return [tf.gather(t, tf.tensor2d(ids, [4, 6], 'int32')), g];
    };
    expect(relErr(await both(f))).toBeLessThan(1e-6);
  });

  it('UnsortedSegmentSum drops ids outside [0, S) as TensorFlow does (tfjs-webgpu wraps them)', async () => {
    const x = rnd(7 * 5, 1);
    const ids = [3, 0, 3, 6, 0, 9, -1]; // 9 and -1 dropped; 9 would wrap onto segment 2
    expect(relErr(await both(() => tf.unsortedSegmentSum(tf.tensor2d(x, [7, 5]), tf.tensor1d(ids, 'int32'), 7)))).toBeLessThan(1e-6);
  });

  it('a token id past the table throws as on wasm and cpu (tfjs-webgpu reads zeros)', () => {
    const w = tf.tensor2d(rnd(40, 4), [10, 4]);
    expect(() => tf.gather(w, tf.tensor1d([1, 12], 'int32'))).toThrow('GatherV2: the index value 12 is not in [0, 9]');
    w.dispose();
  });

  it('softmax, logSumExp, oneHot, rsqrt, sigmoid, reductions, einsum', async () => {
    const x = rnd(12 * 300, 9);
    const f = () => {
      const t = tf.tensor2d(x, [12, 300]);
      return [
        tf.softmax(tf.mul(t, 20)),
        tf.logSumExp(t, -1, true),
        tf.logSoftmax(t),
        tf.oneHot(tf.tensor1d([0, 5, 299, 7], 'int32'), 300),
        tf.rsqrt(tf.add(tf.abs(t), 1e-3)),
        tf.sigmoid(tf.mul(t, 20)),
        tf.max(t, -1),
        tf.mean(t, -1, true),
        tf.sum(t, 0),
        tf.einsum('bhqd,bhkd->bhqk', tf.reshape(t, [3, 4, 15, 20]), tf.reshape(tf.neg(t), [3, 4, 15, 20])),
      ];
    };
    expect(relErr(await both(f))).toBeLessThan(1e-5);
  });

  // Every kernel of the model's forward and of its gradient, on two shapes of the decoder.
  // A sequence length of its own each, so that no cached table is shared between them.
  const models: [string, Omit<ModelConfigInput, 'vocabSize'>, number][] = [
    ['Llama (GQA, tied embeddings, rotate-half rope)', { hiddenSize: 32, numLayers: 2, numHeads: 4, numKvHeads: 2, intermediateSize: 48, tieWordEmbeddings: true, maxPositionEmbeddings: 16 }, 7],
    ['Llama (one kv head, untied, adjacent-pair rope)', { hiddenSize: 48, numLayers: 1, numHeads: 3, numKvHeads: 1, intermediateSize: 40, ropeStyle: 'adjacent', maxPositionEmbeddings: 16 }, 6],
  ];
  for (const [name, cfg, T] of models) {
    it(`${name}: loss and the gradient of every parameter`, async () => {
      const model = buildLlama(makeModelConfig({ vocabSize: 37, ...cfg }));
      const specs = [...new Map(model.layers.flatMap((l) => l.params).map((p) => [p.name, p])).values()]; // a tied table once
      const B = 2;
      const ids = Array.from({ length: B * T }, (_, i) => (i * 11 + 3) % 37);
      const targets = Array.from({ length: B * T }, (_, i) => (i * 5 + 1) % 37);
      const mask = Array.from({ length: B * T }, (_, i) => (i % 4 === 3 ? 0 : 1));
      const r = await both(() => {
        const ps = specs.map((s, i) => tf.tensor(rnd(s.shape.reduce((a, b) => a * b, 1), 100 + i).map((v) => v * 0.2), [...s.shape]));
        const lossOf = (...xs: tf.Tensor[]) => {
          const params = new Map(specs.map((s, i) => [s.name, xs[i]!]));
          const logits = forwardLogits(model, params, tf.tensor2d(ids, [B, T], 'int32')); // [B, T, V]
          return maskedCrossEntropy(tf.reshape(logits, [B * T, 37]) as tf.Tensor2D, tf.tensor1d(targets, 'int32'), tf.tensor1d(mask, 'float32'), 10);
        };
        const { value, grads } = tf.valueAndGrads(lossOf)(ps);
        return [value, ...grads];
      });
      expect(r.gpu).toHaveLength(specs.length + 1);
      expect(relErr(r)).toBeLessThan(1e-5);
    });
  }
});
