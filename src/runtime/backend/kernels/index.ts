import { registerFastWasmMatMul } from './batch_mat_mul_wasm.ts';
import { registerWasmUnsortedSegmentSum } from './unsorted_segment_sum_wasm.ts';

/** Kernels deepscale adds to or replaces in the wasm backend; called once the backend is ready. */
export function registerWasmKernels(): void {
  registerWasmUnsortedSegmentSum();
  registerFastWasmMatMul();
}
