import * as tf from '@tensorflow/tfjs-core';
import type { NativeKernels } from '../native.ts';

/**
 * A faster BatchMatMul for the wasm backend.
 *
 * Measured here (2048×256 · 256×688): tfjs-wasm runs a matmul through XNNPACK (~25–30 GFLOP/s)
 * only when it has one batch and no transposed operand; otherwise it falls back to a naive loop
 * at 1–2 GFLOP/s. Training hits the slow path everywhere: x·Wᵀ for HF-layout weights, the
 * gradients of every matmul (Aᵀ·dY, dY·Bᵀ), and attention's batched [B·H, T, Dh] products.
 *
 * This kernel keeps every product on the fast path: a transposed operand is first transposed
 * (wasm Transpose, one pass over memory), and a batched product runs as one single-batch product
 * per batch entry over views of the operands — tensor ids registered at offsets inside the
 * existing buffers, so no batch entry is copied.
 *
 * With deepscale's native addon loaded (useNativeMatMul), every product instead runs as one call
 * of its threaded AVX2+FMA sgemm over views of the wasm heap: transposes are read in place while
 * packing, and the batch is split over threads.
 */
// The backend's internals this kernel uses (not in tfjs's public types).
interface WasmBackendInternals {
  dataIdMap: { get(dataId: object): { id: number; memoryOffset: number } };
  dataIdNextNumber: number;
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  disposeData(dataId: object): boolean;
  wasm: {
    HEAPU8: Uint8Array;
    cwrap(name: string, ret: null, args: string[]): (...args: unknown[]) => void;
    tfjs: { registerTensor(id: number, size: number, offset: number): void; disposeData(id: number): void };
  };
}

type MatMulFn = (aId: number, aShape: Uint8Array, aRank: number, bId: number, bShape: Uint8Array, bRank: number, ta: boolean, tb: boolean, outId: number) => void;

let wasmMatMul: MatMulFn | null = null;
let transposeKernel: tf.KernelFunc | null = null;
let native: NativeKernels | null = null;

/** Routes BatchMatMul to the native sgemm (null: back to XNNPACK). */
export function useNativeMatMul(kernels: NativeKernels | null): void {
  native = kernels;
}

/** The product on the native sgemm, reading a and b (as stored, either layout) in the wasm heap. */
function nativeBatchMatMul(backend: WasmBackendInternals, a: tf.TensorInfo, b: tf.TensorInfo, out: tf.TensorInfo,
  p: { batch: number; batchA: number; batchB: number; M: number; N: number; K: number; transposeA: boolean; transposeB: boolean }): void {
  // The heap's buffer is read after makeOutput: a memory.grow there detaches earlier views.
  const heap = backend.wasm.HEAPU8.buffer;
  const view = (t: tf.TensorInfo, n: number): Float32Array => new Float32Array(heap, backend.dataIdMap.get(t.dataId).memoryOffset, n);
  const { batch, batchA, batchB, M, N, K } = p;
  native!.sgemm(view(a, batchA * M * K), view(b, batchB * K * N), view(out, batch * M * N), batch, M, N, K, p.transposeA, p.transposeB,
    batchA === 1 ? 0 : M * K, batchB === 1 ? 0 : K * N, M * N);
}

const shapeBytes = (s: number[]): Uint8Array => new Uint8Array(new Int32Array(s).buffer);

/** Moves the last two axes: [batch, r, c] → [batch, c, r], as a new tensor on the heap. */
function transposeLast2(x: tf.TensorInfo, batch: number, r: number, c: number, backend: WasmBackendInternals): tf.TensorInfo {
  const view: tf.TensorInfo = { dataId: x.dataId, shape: [batch, r, c], dtype: 'float32' };
  return transposeKernel!({ inputs: { x: view }, backend: backend as unknown as tf.KernelBackend, attrs: { perm: [0, 2, 1] } }) as tf.TensorInfo;
}

function batchMatMul(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as WasmBackendInternals;
  const a = args.inputs.a!;
  const b = args.inputs.b!;
  const { transposeA, transposeB } = args.attrs as { transposeA: boolean; transposeB: boolean };
  if (a.dtype !== 'float32' || b.dtype !== 'float32') throw new Error(`BatchMatMul: float32 only, got ${a.dtype} and ${b.dtype}`);
  const ar = a.shape.length;
  const br = b.shape.length;
  const [aRows, aCols] = [a.shape[ar - 2]!, a.shape[ar - 1]!];
  const [bRows, bCols] = [b.shape[br - 2]!, b.shape[br - 1]!];
  const M = transposeA ? aCols : aRows;
  const K = transposeA ? aRows : aCols;
  const N = transposeB ? bRows : bCols;
  const Kb = transposeB ? bCols : bRows;
  if (K !== Kb) throw new Error(`matMul: inner dimensions ${K} and ${Kb} of shapes [${a.shape}] and [${b.shape}] (transposeA=${transposeA}, transposeB=${transposeB}) differ`);
  const outerA = a.shape.slice(0, -2);
  const outerB = b.shape.slice(0, -2);
  const batchA = outerA.reduce((x, y) => x * y, 1);
  const batchB = outerB.reduce((x, y) => x * y, 1);
  if (batchA !== batchB && batchA !== 1 && batchB !== 1) throw new Error(`matMul: batch shapes [${outerA}] and [${outerB}] do not broadcast`);
  const batch = Math.max(batchA, batchB);
  const outOuter = batchA >= batchB ? outerA : outerB;

  if (native) {
    const out = backend.makeOutput([...outOuter, M, N], 'float32');
    if (batch * M * N > 0) nativeBatchMatMul(backend, a, b, out, { batch, batchA, batchB, M, N, K, transposeA, transposeB });
    return out;
  }
  const temps: tf.TensorInfo[] = [];
  const aT = transposeA ? transposeLast2(a, batchA, aRows, aCols, backend) : a; // [batchA, M, K]
  const bT = transposeB ? transposeLast2(b, batchB, bRows, bCols, backend) : b; // [batchB, K, N]
  if (transposeA) temps.push(aT);
  if (transposeB) temps.push(bT);
  const out = backend.makeOutput([...outOuter, M, N], 'float32');
  const aInfo = backend.dataIdMap.get(aT.dataId);
  const bInfo = backend.dataIdMap.get(bT.dataId);
  const oInfo = backend.dataIdMap.get(out.dataId);
  const sa = shapeBytes([1, M, K]);
  const sb = shapeBytes([1, K, N]);
  if (batch === 1) {
    wasmMatMul!(aInfo.id, sa, 3, bInfo.id, sb, 3, false, false, oInfo.id);
  } else {
    // One single-batch product per entry, over views at byte offsets into the operands.
    for (let i = 0; i < batch; i++) {
      const ids = [backend.dataIdNextNumber++, backend.dataIdNextNumber++, backend.dataIdNextNumber++] as const;
      backend.wasm.tfjs.registerTensor(ids[0], M * K, aInfo.memoryOffset + (batchA === 1 ? 0 : i * M * K * 4));
      backend.wasm.tfjs.registerTensor(ids[1], K * N, bInfo.memoryOffset + (batchB === 1 ? 0 : i * K * N * 4));
      backend.wasm.tfjs.registerTensor(ids[2], M * N, oInfo.memoryOffset + i * M * N * 4);
      wasmMatMul!(ids[0], sa, 3, ids[1], sb, 3, false, false, ids[2]);
      // Unregisters the ids (and XNNPACK's operator cached for ids[1]); frees no memory.
      for (const id of ids) backend.wasm.tfjs.disposeData(id);
    }
  }
  for (const t of temps) backend.disposeData(t.dataId);
  return out;
}

/** Replaces the wasm backend's BatchMatMul; call once after the wasm backend is ready. */
export function registerFastWasmMatMul(): void {
  const backend = tf.findBackend('wasm') as unknown as WasmBackendInternals | null;
  if (!backend || wasmMatMul) return;
  wasmMatMul = backend.wasm.cwrap('BatchMatMul', null, ['number', 'array', 'number', 'number', 'array', 'number', 'number', 'number', 'number']) as unknown as MatMulFn;
  transposeKernel = tf.getKernel('Transpose', 'wasm')!.kernelFunc;
  tf.unregisterKernel('BatchMatMul', 'wasm');
  tf.registerKernel({ kernelName: 'BatchMatMul', backendName: 'wasm', kernelFunc: batchMatMul as unknown as tf.KernelFunc });
}
