/**
 * The stored-format kernels (qdot.c, kdot.c for few rows, dqgemm.c's dequantized panels for many)
 * against the TypeScript dequantize references: on random blocks, scales from subnormal to the f16
 * maximum and zero, ragged M (tiles of 4, 3, 2, 1) and N (16-row chunks, 8-row panels), fused parts
 * of mixed types.
 */
import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/data/rng.ts';
import { f32ToF16 } from '../../../src/inference/loaders/dtype.ts';
import type { GgmlTypeId } from '../../../src/inference/loaders/gguf/constants.ts';
import { tensorType } from '../../../src/inference/loaders/gguf/tensor_types.ts';
import { placeRows, q8ScratchBytes, QuantGemm } from '../../../src/inference/runner/qgemm.ts';
import { SharedArena } from '../../../src/inference/wasm/arena.ts';

/** f16 scales a block may carry: zero, subnormal, tiny, ordinary, the f16 maximum. */
const SCALES = [0, 2 ** -24, 6e-5, 0.01, 0.37, 65504];

/** Random bytes for `rows` rows of K elements of `type`, with each block's scales drawn from SCALES (or small random ones). */
function randomRows(rng: Rng, type: GgmlTypeId, rows: number, K: number): Uint8Array {
  const t = tensorType(type);
  const bytes = Uint8Array.from({ length: (rows * K / t.elems) * t.bytes }, () => rng.int(256));
  if (t.elems === 1) {
    // F16 / BF16: values in ±[1e-3, 10] and some zeros (no Inf / NaN)
    const v = Float32Array.from({ length: rows * K }, () => (rng.int(8) === 0 ? 0 : (rng.next() * 2 - 1) * 10 ** (rng.int(4) - 3)));
    return t.quantize(v);
  }
  for (let at = 0; at < bytes.length; at += t.bytes) {
    for (const s of t.scales) {
      const h = f32ToF16(rng.int(3) === 0 ? SCALES[rng.int(SCALES.length)]! * (rng.int(2) ? -1 : 1) : (rng.next() - 0.5) * 0.1);
      bytes[at + s] = h & 255;
      bytes[at + s + 1] = h >> 8;
    }
  }
  return bytes;
}

const roundEven = (x: number) => {
  const r = Math.round(x);
  return Math.abs(x % 1) === 0.5 && r % 2 !== 0 ? r - 1 : r;
};

/** a as quantize_q8 sees it: per 32, d = max|a| / 127 and q = round-half-even(a / d), in float32. */
function q8Values(a: Float32Array): Float64Array {
  const out = new Float64Array(a.length);
  for (let b = 0; b < a.length; b += 32) {
    let amax = 0;
    for (let j = 0; j < 32; j++) amax = Math.max(amax, Math.abs(a[b + j]!));
    const d = Math.fround(amax / 127);
    const id = d > 0 ? Math.fround(1 / d) : 0;
    for (let j = 0; j < 32; j++) out[b + j] = d * roundEven(Math.fround(a[b + j]! * id));
  }
  return out;
}

function check(types: GgmlTypeId[], K: number, M: number, rowsOf: number[], rng: Rng): void {
  const arena = SharedArena.create(1 << 22);
  const gemm = new QuantGemm(arena);
  const parts = types.map((type, i) => {
    const bytes = randomRows(rng, type, rowsOf[i]!, K);
    return { shape: [rowsOf[i]!, K], data: new Float32Array(0), stored: { type, bytes, byteLength: bytes.length, copyTo: (d: Uint8Array) => d.set(bytes) } };
  });
  const w = placeRows(arena, parts, 'w');
  const dense = parts.map((p) => tensorType(p.stored.type).dequantize(p.stored.bytes, 0, p.shape[0]! * K));
  const a = Float32Array.from({ length: M * K }, () => (rng.next() * 2 - 1) * 10 ** (rng.int(3) - 1));
  const aOff = arena.put(a, 'a');
  const cOff = arena.alloc(4 * M * w.N, 'c');
  const q8 = arena.alloc(q8ScratchBytes(M, K), 'q8');
  arena.f32(cOff, M * w.N).fill(NaN);
  gemm.run(aOff, w, cOff, M, q8);
  const c = arena.f32(cOff, M * w.N);
  for (let m = 0; m < M; m++) {
    const row = a.subarray(m * K, (m + 1) * K);
    let col = 0;
    parts.forEach((p, i) => {
      // 8-bit activations below the panel path's rows (16 for k-quants and 16-bit, 32 for the others); float32 on it
      const panel = [10, 11].includes(p.stored.type) || M >= ([1, 30, 12, 13, 14].includes(p.stored.type) ? 16 : 32);
      const act = tensorType(p.stored.type).elems === 1 || panel ? Float64Array.from(row) : q8Values(row);
      for (let n = 0; n < p.shape[0]!; n++, col++) {
        let want = 0;
        let mag = 0;
        for (let k = 0; k < K; k++) {
          const x = act[k]! * dense[i]![n * K + k]!;
          want += x;
          mag += Math.abs(x);
        }
        const got = c[m * w.N + col]!;
        expect(Math.abs(got - want), `${types.join('+')} K ${K} M ${M} row ${m} col ${col}: ${got} vs ${want}`).toBeLessThanOrEqual(2e-6 * mag + 1e-30);
      }
    });
  }
}

describe('stored-format kernels equal their dequantize reference', () => {
  const rng = new Rng(3);
  it.each([
    ['Q8_0', 8, [32, 96]], ['Q4_0', 2, [32, 160]], ['Q4_1', 3, [32, 96]], ['Q5_0', 6, [32, 96]], ['Q5_1', 7, [64]], ['Q4_K', 12, [256, 512]], ['Q5_K', 13, [256, 512]], ['Q6_K', 14, [256, 512]],
    ['Q2_K', 10, [256]], ['Q3_K', 11, [256, 512]], ['F16', 1, [7, 64, 75]], ['BF16', 30, [8, 33]],
  ] as const)('%s', (_name, type, Ks) => {
    for (const K of Ks) for (const M of [1, 2, 3, 4, 5, 7, 9, 18, 33]) check([type], K, M, [1 + rng.int(37)], rng);
  });

  it('a fused product whose parts have different types (Q4_K q/k, Q6_K v, F16, Q5_1)', () => {
    for (const M of [1, 6, 13]) check([12, 12, 14, 1, 7], 256, M, [17, 5, 5, 3, 2], rng);
  });
});
