import * as tf from '@tensorflow/tfjs-core';

/**
 * UnsortedSegmentSum for the wasm backend, which lacks it: the gradient of gather (the embedding
 * layer's backward) scatters rows of dy into the rows their ids name.
 *   x [N, ...inner], segmentIds int32 [N] (or x's leading dims), numSegments S → out [S, ...inner]
 * Ids outside [0, S) are dropped, as TensorFlow does.
 */
interface WasmBackendLike {
  makeOutput(shape: number[], dtype: 'float32'): tf.TensorInfo;
  typedArrayFromHeap(t: tf.TensorInfo): Float32Array | Int32Array;
}

function unsortedSegmentSum(args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo {
  const backend = args.backend as WasmBackendLike;
  const x = args.inputs.x!;
  const ids = args.inputs.segmentIds!;
  const S = (args.attrs as { numSegments: number }).numSegments;
  if (x.dtype !== 'float32') throw new Error(`UnsortedSegmentSum (wasm): float32 only, got ${x.dtype}`);
  const n = ids.shape.reduce((a, b) => a * b, 1);
  const inner = x.shape.slice(ids.shape.length).reduce((a, b) => a * b, 1);
  const out = backend.makeOutput([S, ...x.shape.slice(ids.shape.length)], 'float32');
  // Views into the wasm heap, taken after makeOutput (which may grow the heap and detach older views).
  const xd = backend.typedArrayFromHeap(x) as Float32Array;
  const id = backend.typedArrayFromHeap(ids);
  const od = backend.typedArrayFromHeap(out) as Float32Array;
  od.fill(0);
  for (let i = 0; i < n; i++) {
    const s = id[i]!;
    if (s < 0 || s >= S) continue;
    const src = i * inner;
    const dst = s * inner;
    for (let j = 0; j < inner; j++) od[dst + j]! += xd[src + j]!;
  }
  return out;
}

export function registerWasmUnsortedSegmentSum(): void {
  if (tf.getKernel('UnsortedSegmentSum', 'wasm')) return;
  tf.registerKernel({ kernelName: 'UnsortedSegmentSum', backendName: 'wasm', kernelFunc: unsortedSegmentSum as unknown as tf.KernelFunc });
}
