import type * as tf from '@tensorflow/tfjs-core';
import { replaceWebgpuKernel, webgpuKernel, type KernelArgs } from './webgpu_replace.ts';

/**
 * UnsortedSegmentSum on webgpu with TensorFlow's rule for ids outside [0, S): dropped.
 * tfjs-backend-webgpu drops negative ids but wraps the others (id % S), so an id past the
 * vocabulary would add its gradient to another row. Here every id ≥ S goes to one extra segment
 * S, which is cut off: out = Slice(own(x, min(ids, S), S + 1), rows [0, S)).
 *   x [N, ...inner], segmentIds int32 [N], numSegments S → out [S, ...inner]
 */
function unsortedSegmentSum(args: KernelArgs): tf.TensorInfo {
  const { backend } = args;
  const x = args.inputs.x!;
  const ids = args.inputs.segmentIds!;
  const S = (args.attrs as { numSegments: number }).numSegments;
  const limit = backend.makeTensorInfo([], 'int32', Int32Array.of(S));
  const clamped = webgpuKernel('Minimum')({ inputs: { a: ids, b: limit }, backend, attrs: {} } as never) as tf.TensorInfo;
  const wide = webgpuKernel('UnsortedSegmentSum')({ inputs: { x, segmentIds: clamped }, backend, attrs: { numSegments: S + 1 } } as never) as tf.TensorInfo; // [S + 1, ...inner]
  const inner = wide.shape.slice(1);
  const out = webgpuKernel('Slice')({ inputs: { x: wide }, backend, attrs: { begin: wide.shape.map(() => 0), size: [S, ...inner] } } as never) as tf.TensorInfo;
  for (const t of [limit, clamped, wide]) backend.disposeData(t.dataId);
  return out;
}

export function registerWebgpuUnsortedSegmentSum(): void {
  replaceWebgpuKernel('UnsortedSegmentSum', unsortedSegmentSum);
}
