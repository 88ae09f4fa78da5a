import { registerWebgpuGather } from './gather_webgpu.ts';
import { registerWebgpuUnsortedSegmentSum } from './unsorted_segment_sum_webgpu.ts';

/**
 * What deepscale replaces in tfjs-backend-webgpu, by kernel name: `ds report` lists these. Every
 * other kernel training runs (BatchMatMul with transposes and broadcast batches, Softmax, Max,
 * Sum, Mean, Exp, Log, Rsqrt, Sigmoid, OneHot, Einsum, Transpose, Cast, …) tfjs-backend-webgpu
 * has, and test/runtime/backend/webgpu_kernels.test.ts holds each to the cpu backend.
 */
export const WEBGPU_KERNELS: readonly { readonly kernel: string; readonly why: string; readonly register: () => void }[] = [
  { kernel: 'UnsortedSegmentSum', why: 'replaced: ids ≥ numSegments dropped as TensorFlow does (tfjs-webgpu wraps them onto other rows)', register: registerWebgpuUnsortedSegmentSum },
  { kernel: 'GatherV2', why: 'replaced: an index out of range throws, as on wasm and cpu (tfjs-webgpu reads zeros)', register: registerWebgpuGather },
];

/** Kernels deepscale replaces in the webgpu backend; called once the backend is ready. */
export function registerWebgpuKernels(): void {
  for (const k of WEBGPU_KERNELS) k.register();
}
