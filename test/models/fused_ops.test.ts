/**
 * The fused ops on the native kernels (src/models/fused, native/fused_*.c) against references on
 * random inputs: values and the gradients of Σ f(x) ⊙ R for a random R.
 *   RMSNorm, SwiGLU, cross-entropy: float64 formulas written out here.
 *   Attention (GQA, both rope styles, tails that do not fill a tile): the tfjs composition,
 *   differentiated by tfjs on the cpu backend.
 */
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { describe, expect, it } from 'vitest';
import { initBackend } from '../../src/runtime/backend/index.ts';
import { onBackend } from '../../src/runtime/backend/bench.ts';
import { Rng } from '../../src/data/rng.ts';
import { makeModelConfig } from '../../src/models/config.ts';
import { ropeTables } from '../../src/models/ops.ts';
import { causalAttentionTf, fusedCausalAttention, fusedCrossEntropy, fusedLive, fusedRmsNorm, fusedSwiGlu } from '../../src/models/fused/index.ts';

const info = await initBackend({ force: 'wasm' });

const randn = (rng: Rng, n: number, s = 1): Float32Array => Float32Array.from({ length: n }, () => s * rng.normal());

/** Largest |a − b| over max(1, |b|). */
function maxErr(a: ArrayLike<number>, b: ArrayLike<number>): number {
  expect(a.length).toBe(b.length);
  let e = 0;
  for (let i = 0; i < b.length; i++) e = Math.max(e, Math.abs(a[i]! - b[i]!) / Math.max(1, Math.abs(b[i]!)));
  return e;
}

/** Value and gradients of Σ f(xs) ⊙ R on the live backend, as arrays. */
function valueAndGrads(f: (...xs: tf.Tensor[]) => tf.Tensor, xs: { data: Float32Array; shape: number[] }[], r: Float32Array | null): { y: Float32Array; grads: Float32Array[] } {
  return tf.tidy(() => {
    const ts = xs.map((x) => tf.tensor(x.data, x.shape));
    const y = f(...ts);
    const g = tf.grads((...a: tf.Tensor[]) => (r ? tf.sum(tf.mul(f(...a), tf.tensor(r, y.shape))) : f(...a)))(ts);
    return { y: y.dataSync() as Float32Array, grads: g.map((t) => t.dataSync() as Float32Array) };
  });
}

describe.skipIf(!fusedLive())(`fused ops on the native kernels (${info.native.why})`, () => {
  it('RMSNorm forward and backward match float64', () => {
    const rng = new Rng(1);
    const [N, D, eps] = [37, 75, 1e-5];
    const x = randn(rng, N * D), w = randn(rng, D), r = randn(rng, N * D);
    const got = valueAndGrads((a, b) => fusedRmsNorm(a as tf.Tensor2D, b!, eps), [{ data: x, shape: [N, D] }, { data: w, shape: [D] }], r);
    const y = new Float64Array(N * D), dx = new Float64Array(N * D), dw = new Float64Array(D);
    for (let i = 0; i < N; i++) {
      let ss = 0;
      for (let d = 0; d < D; d++) ss += x[i * D + d]! ** 2;
      const rs = 1 / Math.sqrt(ss / D + eps);
      let dot = 0; // Σ_d r_d w_d x_d
      for (let d = 0; d < D; d++) {
        const k = i * D + d;
        y[k] = x[k]! * rs * w[d]!;
        dw[d]! += r[k]! * x[k]! * rs;
        dot += r[k]! * w[d]! * x[k]!;
      }
      // y_d = x_d·rs·w_d, ∂rs/∂x_e = −rs³·x_e/D
      for (let d = 0; d < D; d++) dx[i * D + d] = rs * r[i * D + d]! * w[d]! - (rs ** 3) * x[i * D + d]! * dot / D;
    }
    expect(maxErr(got.y, y)).toBeLessThan(1e-5);
    expect(maxErr(got.grads[0]!, dx)).toBeLessThan(1e-5);
    expect(maxErr(got.grads[1]!, dw)).toBeLessThan(1e-4);
  });

  it('SwiGLU forward and backward match float64', () => {
    const rng = new Rng(2);
    const n = 3 * 257;
    const g = randn(rng, n, 3), u = randn(rng, n), r = randn(rng, n);
    const got = valueAndGrads((a, b) => fusedSwiGlu(a as tf.Tensor2D, b as tf.Tensor2D), [{ data: g, shape: [3, 257] }, { data: u, shape: [3, 257] }], r);
    const sig = (z: number): number => 1 / (1 + Math.exp(-z));
    const y = Array.from(g, (z, i) => z * sig(z) * u[i]!);
    const dg = Array.from(g, (z, i) => r[i]! * u[i]! * (sig(z) + z * sig(z) * (1 - sig(z))));
    const du = Array.from(g, (z, i) => r[i]! * z * sig(z));
    expect(maxErr(got.y, y)).toBeLessThan(1e-5);
    expect(maxErr(got.grads[0]!, dg)).toBeLessThan(1e-5);
    expect(maxErr(got.grads[1]!, du)).toBeLessThan(1e-5);
  });

  it('cross-entropy (masked, a target outside the vocabulary) and its gradient match float64', () => {
    const rng = new Rng(3);
    const [N, V, denom] = [29, 261, 17];
    const logits = randn(rng, N * V, 4);
    const targets = Int32Array.from({ length: N }, (_, i) => (i === 5 ? V : rng.int(V)));
    const mask = Float32Array.from({ length: N }, (_, i) => (i % 4 === 1 ? 0 : 1));
    const { loss, grad } = tf.tidy(() => {
      const l = tf.tensor2d(logits, [N, V]);
      const t = tf.tensor1d(targets, 'int32'), m = tf.tensor1d(mask);
      const { value, grads } = tf.valueAndGrads((a: tf.Tensor) => fusedCrossEntropy(a as tf.Tensor2D, t, m, denom))([l]);
      return { loss: value.dataSync()[0]!, grad: grads[0]!.dataSync() as Float32Array };
    });
    let want = 0;
    const dl = new Float64Array(N * V);
    for (let i = 0; i < N; i++) {
      const row = Array.from(logits.subarray(i * V, (i + 1) * V));
      const m = Math.max(...row);
      const z = row.reduce((s, v) => s + Math.exp(v - m), 0);
      const lse = m + Math.log(z);
      const tg = targets[i]!;
      want += mask[i]! * (lse - (tg < V ? row[tg]! : 0));
      for (let j = 0; j < V; j++) dl[i * V + j] = (mask[i]! / denom) * (Math.exp(row[j]! - lse) - (j === tg ? 1 : 0));
    }
    expect(Math.abs(loss - want / denom)).toBeLessThan(1e-5 * Math.abs(want / denom));
    expect(maxErr(grad, dl)).toBeLessThan(1e-6);
  });

  // [B, T, H, Hkv, Dh, rope style]: T = 30 ends on a 6-row tile (tiles are 24 rows), GQA groups of 1, 2, 3.
  const shapes: [number, number, number, number, number, 'half' | 'adjacent'][] = [
    [2, 30, 4, 2, 8, 'half'],
    [1, 53, 6, 2, 16, 'adjacent'],
    [3, 7, 2, 2, 4, 'half'],
  ];
  for (const [B, T, H, Hkv, Dh, style] of shapes) {
    it(`causal attention B=${B} T=${T} H=${H} Hkv=${Hkv} Dh=${Dh} ${style}: output and dq, dk, dv match tfjs-cpu`, async () => {
      const rng = new Rng(T * 100 + H);
      const config = makeModelConfig({ vocabSize: 8, hiddenSize: H * Dh, numLayers: 1, numHeads: H, numKvHeads: Hkv, ropeStyle: style });
      const xs = [
        { data: randn(rng, B * T * H * Dh), shape: [B, T, H, Dh] },
        { data: randn(rng, B * T * Hkv * Dh), shape: [B, T, Hkv, Dh] },
        { data: randn(rng, B * T * Hkv * Dh), shape: [B, T, Hkv, Dh] },
      ];
      const r = randn(rng, B * T * H * Dh);
      const run = (fused: boolean): { y: Float32Array; grads: Float32Array[] } => {
        const tables = ropeTables(config, 0, T);
        try {
          const f = fused ? fusedCausalAttention : causalAttentionTf;
          return valueAndGrads((q, k, v) => f(q as tf.Tensor4D, k as tf.Tensor4D, v as tf.Tensor4D, { tables, style }), xs, r);
        } finally {
          tf.dispose([tables.cos, tables.sin, tables.rot]);
        }
      };
      const want = await onBackend('cpu', () => run(false));
      const got = run(true);
      expect(maxErr(got.y, want.y)).toBeLessThan(1e-5);
      for (const [i, name] of ['dq', 'dk', 'dv'].entries()) expect(maxErr(got.grads[i]!, want.grads[i]!), name).toBeLessThan(2e-5);
    });
  }

  it('leaves no tensors behind, and a mismatched shape is an error naming both', () => {
    const before = tf.memory().numTensors;
    tf.tidy(() => {
      const x = tf.randomNormal([8, 16]) as tf.Tensor2D;
      tf.grads((a: tf.Tensor) => tf.sum(fusedSwiGlu(fusedRmsNorm(a as tf.Tensor2D, tf.ones([16]), 1e-5), a as tf.Tensor2D)))([x]);
    });
    expect(tf.memory().numTensors).toBe(before);
    expect(() => tf.tidy(() => fusedRmsNorm(tf.zeros([4, 8]) as tf.Tensor2D, tf.ones([6]), 1e-5))).toThrow(/weight \[6\] does not match x \[4,8\]/);
  });
});
