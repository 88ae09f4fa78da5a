import * as tf from '@tensorflow/tfjs-core';
import { nativeFused } from '../../runtime/backend/native_kernels.ts';

/**
 * True when the fused ops run on the native kernels: the addon is loaded and the wasm backend is
 * live (the kernels read tensors in its heap). Otherwise each op composes tfjs ops, which every
 * backend runs and tfjs differentiates.
 */
export function fusedLive(): boolean {
  return nativeFused() !== null && tf.getBackend() === 'wasm';
}

/** One native kernel's outputs (src/runtime/backend/native_kernels.ts names them). */
export function runNative(kernel: string, inputs: Record<string, tf.Tensor>, attrs: Record<string, number> = {}): tf.Tensor[] {
  const out = tf.engine().runKernel(kernel, inputs as unknown as tf.NamedTensorMap, attrs);
  return Array.isArray(out) ? out : [out as tf.Tensor];
}

/** Throws an error that names the op and the shapes when `ok` is false. */
export function checkShapes(ok: boolean, op: string, message: () => string): void {
  if (!ok) throw new Error(`${op}: ${message()}`);
}

/** tf.customGrad over `forward` (tfjs types its arguments as a union of tensors and the save function). */
export function customOp(forward: (inputs: tf.Tensor[], save: tf.GradSaveFunc) => { value: tf.Tensor; gradFunc: (dy: tf.Tensor, saved: tf.Tensor[]) => tf.Tensor[] }): (...xs: tf.Tensor[]) => tf.Tensor {
  const f = (...args: (tf.Tensor | tf.GradSaveFunc)[]) => {
    const save = args.pop() as tf.GradSaveFunc;
    const r = forward(args as tf.Tensor[], save);
    return { value: r.value, gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => r.gradFunc(dy as tf.Tensor, saved) };
  };
  return tf.customGrad(f as unknown as Parameters<typeof tf.customGrad>[0]) as unknown as (...xs: tf.Tensor[]) => tf.Tensor;
}
