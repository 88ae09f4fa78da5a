/** The layer loop's generator protocol: what a step yields, and its drivers (executor.ts). */
import * as tf from '@tensorflow/tfjs-core';
import { assert } from '../../errors.ts';

/**
 * The layer loop is written once, as generators that yield what must be waited for (a ZeRO-3
 * gather, a collective, a tensor read on a backend that cannot read synchronously) and are
 * driven by `drive` (async) or `driveSync` (uploaded hooks, tp 1, a synchronous backend).
 */
export type Step<T> = Generator<void | Promise<unknown>, T, unknown>;

export async function drive<T>(gen: Step<T>): Promise<T> {
  let r = gen.next();
  while (!r.done) {
    let value: unknown;
    let failed = false;
    let failure: unknown;
    try {
      value = await r.value;
    } catch (err) {
      failed = true;
      failure = err;
    }
    // A failed wait goes back into the loop, whose finally blocks free its tensors.
    r = failed ? gen.throw(failure) : gen.next(value);
  }
  return r.value;
}

export function driveSync<T>(gen: Step<T>, what: string): T {
  for (let r = gen.next(); ; r = gen.next()) {
    if (r.done) return r.value;
    assert(!(r.value instanceof Promise), () => `${what}: a step waited (ZeRO-3 gathers, tensor parallelism and the webgpu backend need the async driver)`);
  }
}

/** A tensor's values, a copy the caller may change; WebGPU cannot read synchronously, so there it waits. */
export function* readTensor(t: tf.Tensor): Step<Float32Array> {
  if (tf.getBackend() !== 'webgpu') return Float32Array.from(t.dataSync() as Float32Array);
  return Float32Array.from((yield t.data()) as Float32Array);
}
