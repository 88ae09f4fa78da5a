import * as tf from '@tensorflow/tfjs-core';

/**
 * GatherV2 on axis 0 for the wasm backend as row copies (the embedding lookup: ids [B, T] of a
 * [V, D] table → [B, T, D]). tfjs-wasm's generic gather walks element by element (~20 ms for the
 * reference model's 2048 × 256 lookup); a row copy is one memcpy. Other axes, batch dims and
 * dtypes go to the original kernel.
 */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
}

let original: tf.KernelConfig | undefined;

function gatherRows(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const x = args.inputs.x!;
  const indices = args.inputs.indices!;
  const { axis, batchDims } = args.attrs as { axis: number; batchDims: number };
  const ax = axis < 0 ? axis + x.shape.length : axis;
  if (ax !== 0 || batchDims !== 0 || x.dtype !== 'float32' || indices.dtype !== 'int32') return original!.kernelFunc(args as never) as tf.TensorInfo;
  const backend = args.backend as WasmBackendLike;
  const rows = x.shape[0]!;
  const width = x.shape.slice(1).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([...indices.shape, ...x.shape.slice(1)], 'float32');
  // Views after makeOutput: a heap growth there detaches earlier ones.
  const table = backend.typedArrayFromHeap(x) as Float32Array;
  const ids = backend.typedArrayFromHeap(indices) as Int32Array;
  const o = backend.typedArrayFromHeap(out) as Float32Array;
  for (let i = 0; i < ids.length; i++) {
    const r = ids[i]!;
    if (r < 0 || r >= rows) throw new Error(`GatherV2: the index value ${r} is not in [0, ${rows - 1}]`);
    o.set(table.subarray(r * width, (r + 1) * width), i * width);
  }
  return out;
}

export function registerWasmGatherRows(): void {
  const current = tf.getKernel('GatherV2', 'wasm');
  if (!current || current.kernelFunc === (gatherRows as unknown as tf.KernelFunc)) return;
  original = current;
  tf.unregisterKernel('GatherV2', 'wasm');
  tf.registerKernel({ kernelName: 'GatherV2', backendName: 'wasm', kernelFunc: gatherRows as unknown as tf.KernelFunc });
}
