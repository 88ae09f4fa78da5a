import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import '@tensorflow/tfjs-backend-cpu';
import { distillationLoss } from '../../src/compress/distill/kd_loss.ts';
import { seededFloats } from '../helpers/random.ts';

/** The KD loss and its gradient in float64: α·T²·Σ mask·KL(pt ‖ ps)/den + (1−α)·Σ mask·CE/den. */
function reference(s: Float32Array, t: Float32Array, targets: Int32Array, mask: Float32Array, N: number, V: number, den: number, T: number, alpha: number) {
  const softmax = (z: number[]): number[] => {
    const m = Math.max(...z);
    const e = z.map((v) => Math.exp(v - m));
    const sum = e.reduce((a, b) => a + b, 0);
    return e.map((v) => v / sum);
  };
  let loss = 0;
  const grad = new Float64Array(N * V);
  for (let n = 0; n < N; n++) {
    if (!mask[n]) continue;
    const zs = Array.from(s.subarray(n * V, (n + 1) * V), Number);
    const zt = Array.from(t.subarray(n * V, (n + 1) * V), Number);
    const ps = softmax(zs.map((v) => v / T));
    const pt = softmax(zt.map((v) => v / T));
    const p1 = softmax(zs);
    const kl = pt.reduce((a, p, v) => a + (p > 0 ? p * (Math.log(p) - Math.log(ps[v]!)) : 0), 0);
    loss += (alpha * T * T * kl + (1 - alpha) * -Math.log(p1[targets[n]!]!)) / den;
    for (let v = 0; v < V; v++) {
      // d/dz of T²·KL(pt ‖ softmax(z/T)) = T·(ps − pt); of CE: softmax(z) − onehot.
      grad[n * V + v] = (alpha * T * (ps[v]! - pt[v]!) + (1 - alpha) * (p1[v]! - (v === targets[n] ? 1 : 0))) / den;
    }
  }
  return { loss, grad };
}

describe('distillation loss vs a float64 reference', () => {
  const N = 12;
  const V = 9;
  const s = seededFloats(N * V, 1, 4);
  const t = seededFloats(N * V, 2, 6);
  const targets = Int32Array.from({ length: N }, (_, i) => (i * 5) % V);
  const mask = Float32Array.from({ length: N }, (_, i) => (i % 4 === 3 ? 0 : 1));
  for (const [T, alpha] of [[1, 0.5], [2, 0.9], [4, 1], [0.5, 0], [8, 0.3]] as const) {
    it(`T ${T}, alpha ${alpha}: value and gradient in the student's logits`, () => {
      const den = 7;
      const ref = reference(s, t, targets, mask, N, V, den, T, alpha);
      const teacher = tf.tensor2d(t, [N, V]);
      const tt = tf.tensor1d(targets, 'int32');
      const mm = tf.tensor1d(mask);
      const { value, grads } = tf.valueAndGrads((x: tf.Tensor) => distillationLoss(x as tf.Tensor2D, teacher, tt, mm, den, { temperature: T, alpha }))([tf.tensor2d(s, [N, V])]);
      expect(value.dataSync()[0]!).toBeCloseTo(ref.loss, 5);
      const g = grads[0]!.dataSync();
      let worst = 0;
      for (let i = 0; i < N * V; i++) worst = Math.max(worst, Math.abs(g[i]! - ref.grad[i]!));
      expect(worst).toBeLessThan(1e-6);
      tf.dispose([teacher, tt, mm, value, ...grads]);
    });
  }

  it('is the plain cross entropy at alpha 0 and zero KL when the student equals the teacher', () => {
    const den = 9;
    const ref = reference(s, s, targets, mask, N, V, den, 3, 1);
    expect(ref.loss).toBeCloseTo(0, 12);
    const got = tf.tidy(() => distillationLoss(tf.tensor2d(s, [N, V]), tf.tensor2d(s, [N, V]), tf.tensor1d(targets, 'int32'), tf.tensor1d(mask), den, { temperature: 3, alpha: 1 }).dataSync()[0]!);
    expect(Math.abs(got)).toBeLessThan(1e-6);
  });
});
