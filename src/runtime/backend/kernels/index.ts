import { registerFastWasmMatMul } from './batch_mat_mul_wasm.ts';
import { registerEinsumGradient } from './einsum_grad.ts';
import { registerWasmEinsum } from './einsum_wasm.ts';
import { registerWasmUnsortedSegmentSum } from './unsorted_segment_sum_wasm.ts';
import { registerSharedIdentity } from './identity_wasm.ts';
import { registerWasmGatherRows } from './gather_wasm.ts';

/** What deepscale adds to tfjs, by kernel name: `ds report` lists these. */
export const WASM_KERNELS: readonly { readonly kernel: string; readonly why: string; readonly register: () => void }[] = [
  { kernel: 'UnsortedSegmentSum', why: 'added: the gradient of gather (embedding backward)', register: registerWasmUnsortedSegmentSum },
  { kernel: 'BatchMatMul', why: 'replaced: transposed and batched products on the XNNPACK path', register: registerFastWasmMatMul },
  { kernel: 'Einsum', why: 'added: tfjs-wasm has none', register: registerWasmEinsum },
  { kernel: 'Identity', why: 'replaced: shares the input instead of copying it (autograd clones every saved tensor)', register: registerSharedIdentity },
  { kernel: 'GatherV2', why: 'replaced on axis 0: row copies (the embedding lookup)', register: registerWasmGatherRows },
];

export const GRADIENTS: readonly { readonly kernel: string; readonly why: string; readonly register: () => void }[] = [
  { kernel: 'Einsum', why: 'added: tfjs-core has no gradient for Einsum', register: registerEinsumGradient },
];

/** Kernels deepscale adds to or replaces in the wasm backend; called once the backend is ready. */
export function registerWasmKernels(): void {
  for (const k of WASM_KERNELS) k.register();
}

/** Gradients deepscale adds for every backend. */
export function registerGradients(): void {
  for (const g of GRADIENTS) g.register();
}
