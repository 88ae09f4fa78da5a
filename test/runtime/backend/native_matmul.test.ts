import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { initBackend } from '../../../src/runtime/backend/index.ts';
import { Rng } from '../../../src/data/rng.ts';

const info = await initBackend({ force: 'wasm' });

/** op(A)·op(B) in float64 from the stored float32 operands, batch-broadcast as tf.matMul does. */
function reference(a: Float32Array, b: Float32Array, bA: number, bB: number, M: number, N: number, K: number, ta: boolean, tb: boolean): Float64Array {
  const batch = Math.max(bA, bB);
  const c = new Float64Array(batch * M * N);
  for (let q = 0; q < batch; q++) {
    const oa = bA === 1 ? 0 : q * M * K;
    const ob = bB === 1 ? 0 : q * K * N;
    for (let i = 0; i < M; i++) {
      for (let j = 0; j < N; j++) {
        let s = 0;
        for (let k = 0; k < K; k++) s += a[oa + (ta ? k * M + i : i * K + k)]! * b[ob + (tb ? j * K + k : k * N + j)]!;
        c[(q * M + i) * N + j] = s;
      }
    }
  }
  return c;
}

// The shapes training meets (x·Wᵀ, Aᵀ·dY, dY·B, attention's batched QKᵀ and PV) and edges the
// 6×16 micro-kernel and the 256-deep K blocks must handle: ragged M, N and K, broadcast batches.
const cases: [string, number, number, number, number, number, boolean, boolean][] = [
  ['x·Wᵀ, ragged tiles', 1, 1, 37, 45, 300, false, true],
  ['Aᵀ·dY (weight gradient)', 1, 1, 45, 33, 70, true, false],
  ['both transposed, K over two blocks', 1, 1, 13, 17, 513, true, true],
  ['batched QKᵀ', 8, 8, 20, 20, 16, false, true],
  ['batched PV, b broadcast', 5, 1, 11, 24, 9, false, false],
  ['a broadcast, K = 1', 1, 3, 7, 5, 1, false, false],
];

describe.skipIf(!info.native.live)(`wasm BatchMatMul on the native sgemm (${info.native.why})`, () => {
  for (const [what, bA, bB, M, N, K, ta, tb] of cases) {
    it(`${what}: [${bA}] ${M}×${K} · [${bB}] ${K}×${N} matches float64`, () => {
      const rng = new Rng(M * 1000 + N);
      const a = Float32Array.from({ length: bA * M * K }, () => rng.normal());
      const b = Float32Array.from({ length: bB * K * N }, () => rng.normal());
      const shapeA = ta ? [bA, K, M] : [bA, M, K];
      const shapeB = tb ? [bB, N, K] : [bB, K, N];
      const got = tf.tidy(() => tf.matMul(tf.tensor3d(a, shapeA as [number, number, number]), tf.tensor3d(b, shapeB as [number, number, number]), ta, tb).dataSync());
      const want = reference(a, b, bA, bB, M, N, K, ta, tb);
      expect(got.length).toBe(want.length);
      let err = 0;
      for (let i = 0; i < want.length; i++) err = Math.max(err, Math.abs(got[i]! - want[i]!) / Math.sqrt(K));
      expect(err).toBeLessThan(1e-5);
    });
  }

  it('a 2-D product of a zero-row input gives an empty result', () => {
    const out = tf.tidy(() => tf.matMul(tf.zeros([0, 4]), tf.ones([4, 3])).shape);
    expect(out).toEqual([0, 3]);
  });
});
