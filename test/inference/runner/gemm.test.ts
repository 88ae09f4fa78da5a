import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/data/rng.ts';
import { packLinear, WasmGemm } from '../../../src/inference/runner/gemm.ts';
import { SharedArena } from '../../../src/inference/wasm/arena.ts';

function rand(rng: Rng, n: number): Float32Array {
  return Float32Array.from({ length: n }, () => rng.next() * 2 - 1);
}

describe('WasmGemm equals a float64 product', () => {
  it('on random shapes (ragged M and N), with fused parts and column ranges', () => {
    const rng = new Rng(11);
    const arena = SharedArena.create(1 << 20);
    const gemm = new WasmGemm(arena);
    for (let trial = 0; trial < 40; trial++) {
      const M = 1 + rng.int(13);
      const K = 1 + rng.int(70);
      const outs = Array.from({ length: 1 + rng.int(3) }, () => 1 + rng.int(30));
      const N = outs.reduce((a, b) => a + b, 0);
      // HF linear weights [out_k, in], stacked along out: W[k, n] = stacked[n][k]
      const parts = outs.map((o) => ({ shape: [o, K], data: rand(rng, o * K) }));
      const stacked = parts.flatMap((p) => Array.from({ length: p.shape[0]! }, (_, r) => p.data.subarray(r * K, (r + 1) * K)));
      const w = packLinear(arena, parts, 'w');
      const a = rand(rng, M * K);
      const aOff = arena.put(a, 'a');
      const cOff = arena.alloc(4 * M * N, 'c');
      const c = arena.f32(cOff, M * N);
      c.fill(NaN);
      // columns in two ranges cut on a panel boundary, as two threads would
      const cut = Math.min(N, 8 * rng.int(Math.ceil(N / 8) + 1));
      gemm.run(aOff, w, cOff, M, 0, cut);
      gemm.run(aOff, w, cOff, M, cut, N);
      let worst = 0;
      for (let m = 0; m < M; m++) {
        for (let n = 0; n < N; n++) {
          let want = 0;
          for (let k = 0; k < K; k++) want += a[m * K + k]! * stacked[n]![k]!;
          worst = Math.max(worst, Math.abs(c[m * N + n]! - want));
        }
      }
      expect(worst, `M ${M} K ${K} N ${N} cut ${cut}`).toBeLessThan(1e-5);
    }
  });

  it('refuses a column range off the panel grid', () => {
    const arena = SharedArena.create();
    const w = packLinear(arena, [{ shape: [20, 4], data: new Float32Array(80) }], 'w');
    expect(() => new WasmGemm(arena).run(0, w, 0, 1, 4, 20)).toThrow('columns 4..20 are not panel-aligned in 0..20');
  });
});

describe('WasmGemm.siluMul equals SwiGLU in float64', () => {
  it('over magnitudes from tiny to beyond the exponential floor, F not a multiple of 4', () => {
    const rng = new Rng(5);
    const arena = SharedArena.create(1 << 16);
    const gemm = new WasmGemm(arena);
    for (const F of [1, 7, 64]) {
      const rows = 3;
      const gu = Float32Array.from({ length: rows * 2 * F }, () => (rng.next() * 2 - 1) * 10 ** (rng.int(4) - 2) * (rng.int(8) === 0 ? 60 : 1));
      const guOff = arena.put(gu, 'gu');
      const outOff = arena.alloc(4 * rows * F, 'out');
      gemm.siluMul(guOff, outOff, F, rows);
      const out = arena.f32(outOff, rows * F);
      for (let n = 0; n < rows; n++) {
        for (let f = 0; f < F; f++) {
          const g = gu[n * 2 * F + f]!;
          const want = (g / (1 + Math.exp(-g))) * gu[n * 2 * F + F + f]!;
          expect(Math.abs(out[n * F + f]! - want), `g ${g}`).toBeLessThanOrEqual(1e-6 * Math.max(1, Math.abs(want)));
        }
      }
    }
  });
});
