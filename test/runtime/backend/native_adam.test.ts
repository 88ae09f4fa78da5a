/**
 * The addon's Adam/AdamW step against src/runtime/optim/adam_kernel.ts's adamRange (the update the
 * optimizers run today) over a few steps on random data: the same parameters and moments within
 * float32 rounding (the JS loop carries float64 between its stores).
 */
import { describe, expect, it } from 'vitest';
import { loadNative } from '../../../src/runtime/backend/native.ts';
import { adamRange } from '../../../src/runtime/optim/adam_kernel.ts';
import { Rng } from '../../../src/data/rng.ts';

const native = loadNative({ enabled: true, threads: 2 });

describe.skipIf(!native.kernels)(`native Adam (${native.why})`, () => {
  for (const [what, l2, wd] of [['AdamW', 0, 0.1], ['Adam with L2', 0.01, 0]] as const) {
    it(`${what}: 5 steps over 100003 values equal adamRange`, () => {
      const rng = new Rng(2);
      const n = 100_003;
      const p0 = Float32Array.from({ length: n }, () => rng.normal());
      const [pa, pb] = [p0.slice(), p0.slice()];
      const [ma, va, mb, vb] = [new Float32Array(n), new Float32Array(n), new Float32Array(n), new Float32Array(n)];
      const [b1, b2, eps, lr] = [0.9, 0.999, 1e-8, 1e-3];
      for (let t = 1; t <= 5; t++) {
        const g = Float32Array.from({ length: n }, () => rng.normal());
        const stepSize = lr / (1 - b1 ** t);
        const sqrtC2 = Math.sqrt(1 - b2 ** t);
        const keep = 1 - lr * wd;
        adamRange(pa, g, ma, va, 0, n, 0, b1, b2, eps, stepSize, sqrtC2, l2, keep);
        native.kernels!.fused.adam(pb, g, mb, vb, n, b1, b2, eps, stepSize, sqrtC2, l2, keep);
      }
      // Float32 rounding after 5 steps: the largest difference against each array's RMS.
      const rel = (x: Float32Array, y: Float32Array): number => {
        const rms = Math.sqrt(x.reduce((s, xi) => s + xi * xi, 0) / x.length);
        return x.reduce((e, xi, i) => Math.max(e, Math.abs(xi - y[i]!)), 0) / rms;
      };
      expect(rel(pa, pb)).toBeLessThan(1e-5);
      expect(rel(ma, mb)).toBeLessThan(1e-5);
      expect(rel(va, vb)).toBeLessThan(1e-5);
      expect(Math.abs(pa[7]! - p0[7]!)).toBeGreaterThan(1e-4); // it moved
    });
  }
});
