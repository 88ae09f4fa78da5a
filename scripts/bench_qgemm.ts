/**
 * The runner's products, kernel against kernel: one [N, K] weight in every stored type against
 * the float32 panels (gemm.c), at M = 1, 4, 8, 16, 32 and 128 activation rows. Best of 15 runs each, so a
 * busy machine's spikes fall out. Not a test: a measurement.
 *
 *   node --import ./bin/register.js scripts/bench_qgemm.ts [--k 768] [--n 16384]
 */
import { parseArgs } from 'node:util';
import { GgmlType } from '../src/inference/loaders/gguf/constants.ts';
import { TENSOR_TYPES } from '../src/inference/loaders/gguf/tensor_types.ts';
import { packLinear, WasmGemm } from '../src/inference/runner/gemm.ts';
import { placeRows, q8ScratchBytes, QuantGemm } from '../src/inference/runner/qgemm.ts';
import { SharedArena } from '../src/inference/wasm/arena.ts';
import { formatTable } from '../src/cli/table.ts';

const { values: args } = parseArgs({ options: { k: { type: 'string', default: '768' }, n: { type: 'string', default: '16384' } } });
const K = Number(args.k);
const N = Number(args.n);
const arena = SharedArena.create(2 ** 31);
const w = Float32Array.from({ length: N * K }, () => Math.random() - 0.5);
const gemm = new WasmGemm(arena);
const qgemm = new QuantGemm(arena);
const panels = packLinear(arena, [{ shape: [N, K], data: w }], 'w');
const types = ['F16', 'BF16', 'Q8_0', 'Q4_0', 'Q5_1', 'Q2_K', 'Q3_K', 'Q4_K', 'Q5_K', 'Q6_K'] as const;
const rows = types.map((name) => {
  const bytes = TENSOR_TYPES[GgmlType[name]]!.quantize(w);
  return placeRows(arena, [{ shape: [N, K], data: w, stored: { type: GgmlType[name], bytes, byteLength: bytes.length, copyTo: (d) => d.set(bytes) } }], name);
});
const best = (f: () => void) => {
  f();
  let t = Infinity;
  for (let i = 0; i < 15; i++) {
    const t0 = performance.now();
    f();
    t = Math.min(t, performance.now() - t0);
  }
  return t;
};
const table: (string | number)[][] = [];
for (const M of [1, 4, 8, 16, 32, 128]) {
  const a = arena.put(Float32Array.from({ length: M * K }, () => Math.random() - 0.5), 'a');
  const c = arena.alloc(4 * M * N, 'c');
  const q8 = arena.alloc(q8ScratchBytes(M, K), 'q8');
  const f32 = best(() => gemm.run(a, panels, c, M));
  table.push([M, f32.toFixed(2), ...rows.map((r) => {
    const t = best(() => qgemm.run(a, r, c, M, q8));
    return `${t.toFixed(2)} (${(f32 / t).toFixed(2)}×)`;
  })]);
}
process.stdout.write(`[${N}, ${K}] weight, ms per product (speed vs float32 panels)\n${formatTable(['M', 'F32', ...types], table)}\n`);
