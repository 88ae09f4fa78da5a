import type * as tf from '@tensorflow/tfjs-core';
import { hostValues, replaceWebgpuKernel, webgpuKernel, type KernelArgs } from './webgpu_replace.ts';

/**
 * GatherV2 on webgpu, refusing an index outside [0, n) as the wasm and cpu backends do (the
 * embedding of a token id past the vocabulary). tfjs-backend-webgpu gives zeros for it (as
 * TensorFlow does on a GPU) and its gradient lands on another row, so a mismatched tokenizer
 * would train silently wrong. The check reads the indices only where the backend holds them on
 * the CPU already (token ids uploaded from a batch): it never waits for the GPU.
 */
function gatherV2(args: KernelArgs): tf.TensorInfo {
  const x = args.inputs.x!;
  const indices = args.inputs.indices!;
  const ids = hostValues(args.backend, indices);
  if (ids !== null) {
    const axis = (args.attrs as { axis: number }).axis;
    const n = x.shape[axis < 0 ? axis + x.shape.length : axis]!;
    for (let i = 0; i < ids.length; i++) {
      const v = ids[i]!;
      if (v < 0 || v >= n) throw new Error(`GatherV2: the index value ${v} is not in [0, ${n - 1}]`);
    }
  }
  return webgpuKernel('GatherV2')(args as never) as tf.TensorInfo;
}

export function registerWebgpuGather(): void {
  replaceWebgpuKernel('GatherV2', gatherV2);
}
