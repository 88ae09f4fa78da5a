/// <reference types="@webgpu/types" />
/**
 * The WGSL dequantizing kernels against the TS dequantize references (the ones the wasm kernels
 * are tested against), on random blocks: every bit pattern of the quants, scales drawn at random
 * and at the extremes of f16 (65504, the smallest subnormal 2^-24, 0, negative).
 *   get_rows (embedding lookup): every row equals the reference's, to float32 rounding;
 *   matmul: X·Wᵀ equals the float64 product of X and the reference's rows, to 1e-5 of Σ|x·w|.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { TENSOR_TYPES } from '../../../src/inference/loaders/gguf/tensor_types.ts';
import { loadGpu, pickAdapter } from '../../../src/inference/runner/webgpu/gpu.ts';
import { packStep } from '../../../src/inference/runner/webgpu/wgsl/common.ts';
import { getRowsShader, GPU_TYPES, matmulShader, packMatmulParams, rowBytes, type GpuWeightType } from '../../../src/inference/runner/webgpu/wgsl/matmul.ts';
import { rng } from '../../helpers/random_llama.ts';
import { gpuSkipReason, gpuTitle } from './gpu_available.ts';

const N = 6; // weight rows
const K = 512; // two k-quant super-blocks per row
const M = 3; // activation rows
const EXTREME_SCALES = [0x7bff, 0x0001, 0x0000, 0xbc00]; // 65504, 2^-24, 0, −1

/** Random bytes of N rows of `id`, with every f16 scale finite (the loader refuses others) and some at the extremes. */
function randomRows(id: number, seed: number): Uint8Array {
  const t = TENSOR_TYPES[id as keyof typeof TENSOR_TYPES]!;
  const r = rng(seed);
  const bytes = Uint8Array.from({ length: N * rowBytes(GPU_TYPES[id]!, K) }, () => Math.floor(r.uniform() * 256));
  if (id === 1) {
    // F16: every finite pattern (the exponent below all ones: no Inf or NaN)
    for (let i = 1; i < bytes.length; i += 2) if ((bytes[i]! & 0x7c) === 0x7c) bytes[i] = bytes[i]! & ~0x04;
    return bytes;
  }
  if (id === 30) {
    // BF16: random mantissas and signs, exponents within ±2^20 (a product of such stays finite in float32)
    for (let i = 1; i < bytes.length; i += 2) {
      const e = 127 - 20 + Math.floor(r.uniform() * 41); // biased exponent, 8 bits: 7 in this byte, 1 in the next lower one
      bytes[i] = (bytes[i]! & 0x80) | (e >> 1);
      bytes[i - 1] = (bytes[i - 1]! & 0x7f) | ((e & 1) << 7);
    }
    return bytes;
  }
  let block = 0;
  for (let at = 0; at < bytes.length; at += t.bytes, block++) {
    for (const s of t.scales) {
      // a random f16 in ±[2^-8, 2) most of the time, an extreme one every fifth block
      const h = block % 5 === 4 ? EXTREME_SCALES[(block / 5) % EXTREME_SCALES.length | 0]! : ((r.uniform() < 0.5 ? 0x8000 : 0) | ((7 + Math.floor(r.uniform() * 8)) << 10) | Math.floor(r.uniform() * 1024));
      bytes[at + s] = h & 255;
      bytes[at + s + 1] = h >> 8;
    }
  }
  return bytes;
}

describe.skipIf(gpuSkipReason !== null)(gpuTitle('WGSL dequantizing kernels'), () => {
  let device: GPUDevice | null = null;
  afterAll(() => device?.destroy());

  async function setup() {
    const probe = await loadGpu();
    const picked = await pickAdapter(true);
    if (!probe.ok || picked.adapter === null) throw new Error('no adapter');
    device ??= await picked.adapter.requestDevice();
    return { d: device, u: probe.api.globals.GPUBufferUsage, map: probe.api.globals.GPUMapMode };
  }

  it.each(Object.entries(GPU_TYPES).filter(([id]) => id !== '0') as [string, GpuWeightType][])('ggml type %s (%s): get_rows and matmul equal the reference dequantization', async (idText, type) => {
    const id = Number(idText);
    const { d, u, map } = await setup();
    const w = randomRows(id, 100 + id);
    const want = TENSOR_TYPES[id as keyof typeof TENSOR_TYPES]!.dequantize(w, 0, N * K); // [N, K]
    const r = rng(7);
    const x = Float32Array.from({ length: M * K }, () => r.normal());
    const buf = (data: ArrayBufferView | number, usage: number) => {
      const size = typeof data === 'number' ? data : Math.ceil(data.byteLength / 4) * 4;
      const b = d.createBuffer({ size, usage, mappedAtCreation: typeof data !== 'number' });
      if (typeof data !== 'number') (new Uint8Array(b.getMappedRange()).set(new Uint8Array(data.buffer, data.byteOffset, data.byteLength)), b.unmap());
      return b;
    };
    const stepOf = (n: number) => buf(packStep({ n, s: 0, headRows: 0, headRow0: 0, maxBlocks: 0, posOff: 0, slotOff: 0, seqOff: 0, sampleOff: 0, tableOff: 0, tokOff: 0 }), u.UNIFORM);
    const W = buf(w, u.STORAGE);
    const meta = buf(Int32Array.from({ length: N }, (_, i) => N - 1 - i), u.STORAGE); // rows in reverse
    const rows = buf(4 * N * K, u.STORAGE | u.COPY_SRC);
    const X = buf(x, u.STORAGE);
    const Y = buf(4 * M * N, u.STORAGE | u.COPY_SRC); // [M, N]
    const read = buf(4 * (N * K + M * N), u.MAP_READ | u.COPY_DST);
    const rb = rowBytes(type, K);
    const run = (code: string, entries: GPUBuffer[], grid: [number, number, number]) => {
      const pipeline = d.createComputePipeline({ layout: 'auto', compute: { module: d.createShaderModule({ code }), entryPoint: 'main' } });
      const group = d.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries: entries.map((buffer, binding) => ({ binding, resource: { buffer } })) });
      return { pipeline, group, grid };
    };
    const jobs = [
      run(getRowsShader(type), [buf(Uint32Array.from([K, 0, N, rb]), u.UNIFORM), stepOf(N), W, meta, rows], [N, 1, 1]),
      run(matmulShader(type), [buf(packMatmulParams({ N, K, xStride: K, outStride: N, outOff: 0, accumulate: false, mSel: 0, rowBytes: rb }), u.UNIFORM), stepOf(M), W, X, Y], [N, 1, 1]),
    ];
    const enc = d.createCommandEncoder();
    const pass = enc.beginComputePass();
    for (const j of jobs) (pass.setPipeline(j.pipeline), pass.setBindGroup(0, j.group), pass.dispatchWorkgroups(...j.grid));
    pass.end();
    enc.copyBufferToBuffer(rows, 0, read, 0, 4 * N * K);
    enc.copyBufferToBuffer(Y, 0, read, 4 * N * K, 4 * M * N);
    d.queue.submit([enc.finish()]);
    await read.mapAsync(map.READ);
    const out = new Float32Array(read.getMappedRange().slice(0));
    read.unmap();
    // get_rows: token t looks up row N − 1 − t
    let worstRow = 0;
    for (let t = 0; t < N; t++) {
      for (let k = 0; k < K; k++) {
        const ref = want[(N - 1 - t) * K + k]!;
        worstRow = Math.max(worstRow, Math.abs(out[t * K + k]! - ref) / Math.max(1e-30, Math.abs(ref)));
      }
    }
    expect(worstRow, 'relative error of a dequantized element').toBeLessThan(1e-6);
    // matmul: Y [M, N] against the float64 product
    for (let m = 0; m < M; m++) {
      for (let n = 0; n < N; n++) {
        let dot = 0;
        let mag = 0;
        for (let k = 0; k < K; k++) (dot += x[m * K + k]! * want[n * K + k]!), (mag += Math.abs(x[m * K + k]! * want[n * K + k]!));
        expect(Math.abs(out[N * K + m * N + n]! - dot), `Y[${m}, ${n}]`).toBeLessThanOrEqual(1e-5 * mag + 1e-30);
      }
    }
  });
});
