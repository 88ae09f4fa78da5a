import * as tf from '@tensorflow/tfjs-core';

/**
 * Identity for the wasm backend without a copy: the output shares the input's heap memory (one
 * more reference), as tfjs-backend-cpu does. tfjs-wasm's own Identity copies the tensor, and
 * tfjs's autograd clones every tensor a gradient saves (saveTensorsForBackwardMode): with tapes kept
 * that was a copy of each layer's activations and weights per step (~8% of the reference step).
 * Safe because no kernel writes into its inputs.
 */
interface WasmBackendLike {
  incRef(dataId: object): void;
}

function identity(args: { inputs: tf.NamedTensorInfoMap; backend: unknown }): tf.TensorInfo {
  const x = args.inputs.x!;
  (args.backend as WasmBackendLike).incRef(x.dataId);
  return { dataId: x.dataId, shape: x.shape, dtype: x.dtype };
}

let original: tf.KernelConfig | undefined;

export function registerSharedIdentity(): void {
  const current = tf.getKernel('Identity', 'wasm');
  if (current && current.kernelFunc === (identity as unknown as tf.KernelFunc)) return;
  original = current;
  // Strings are stored outside the heap: keep the original kernel for them.
  const kernelFunc = (args: { inputs: tf.NamedTensorInfoMap; backend: unknown; attrs?: tf.NamedAttrMap }): tf.TensorInfo =>
    args.inputs.x!.dtype === 'string' && original ? (original.kernelFunc(args as never) as tf.TensorInfo) : identity(args);
  if (current) tf.unregisterKernel('Identity', 'wasm');
  tf.registerKernel({ kernelName: 'Identity', backendName: 'wasm', kernelFunc: kernelFunc as unknown as tf.KernelFunc });
}
