import * as tf from '@tensorflow/tfjs-core';

/** The webgpu backend's internals the replacements use (not in tfjs's public types). */
export interface WebgpuBackendLike {
  tensorMap: { get(dataId: object): { values: ArrayLike<number> | null } | undefined };
  makeTensorInfo(shape: number[], dtype: tf.DataType, values?: ArrayLike<number>): tf.TensorInfo;
  disposeData(dataId: object): boolean;
}

export type KernelArgs = { inputs: tf.NamedTensorInfoMap; backend: WebgpuBackendLike; attrs?: tf.NamedAttrMap };

const originals = new Map<string, tf.KernelFunc>();

/** The webgpu backend's own kernel `name` (before any replacement of ours). */
export function webgpuKernel(name: string): tf.KernelFunc {
  const own = originals.get(name) ?? tf.getKernel(name, 'webgpu')?.kernelFunc;
  if (!own) throw new Error(`tfjs-backend-webgpu has no ${name} kernel`);
  return own;
}

/** Puts `wrap` in place of the webgpu backend's `name`, once; `wrap` may call webgpuKernel(name). */
export function replaceWebgpuKernel(name: string, wrap: (args: KernelArgs) => tf.TensorInfo): void {
  if (originals.has(name)) return;
  originals.set(name, webgpuKernel(name));
  tf.unregisterKernel(name, 'webgpu');
  tf.registerKernel({ kernelName: name, backendName: 'webgpu', kernelFunc: wrap as unknown as tf.KernelFunc });
}

/** A tensor's values where the backend holds them on the CPU already (uploaded, not yet computed on the GPU); else null. */
export function hostValues(backend: WebgpuBackendLike, t: tf.TensorInfo): ArrayLike<number> | null {
  return backend.tensorMap.get(t.dataId)?.values ?? null;
}
