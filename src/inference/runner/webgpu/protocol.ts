/**
 * Messages between WebGpuRunner (main thread) and its device thread. WebGPU only reads back
 * asynchronously (mapAsync), and the runner interface is synchronous (the engine's step is a
 * plain function), so the device lives on a worker thread with its own event loop:
 *
 *   main:   port.postMessage({ job: n, … }); Atomics.wait(ctrl[DONE] ≠ n − 1)
 *   device: await the GPU → port.postMessage({ job: n, … reply }); ctrl[DONE] = n; notify
 *   main:   receiveMessageOnPort(port) → the reply, synchronously
 *
 * Loading (async, while a server answers /health) waits with Atomics.waitAsync instead.
 */
import type { ModelConfig } from '../../../models/types.ts';
import type { RunnerBatch } from '../batch.ts';
import type { AdapterSummary } from './gpu.ts';
import type { CacheOps, KvPoolShape } from './gpu_cache.ts';
import type { TensorMessage } from './gpu_weights.ts';

export const DONE = 0;
/** ctrl[DONE] once the device thread has ended. */
export const EXITED = -1;

export interface InitRequest {
  readonly kind: 'init';
  readonly config: ModelConfig;
  readonly maxModelLen: number;
  readonly pools: KvPoolShape;
  readonly allowSoftware: boolean;
  readonly maxBindingBytes: number | null;
}

export type DeviceRequest =
  | InitRequest
  | { readonly kind: 'tensor'; readonly tensor: TensorMessage }
  | { readonly kind: 'build'; readonly maxRows: number }
  | { readonly kind: 'cacheOps'; readonly ops: CacheOps }
  | { readonly kind: 'execute'; readonly batch: RunnerBatch }
  /** Destroys the device as a driver reset would (drills and tests of the lost-device path). */
  | { readonly kind: 'lose' }
  | { readonly kind: 'stop' };

export type DeviceReply = { readonly job: number } & (
  | { readonly ok: true; readonly adapter?: AdapterSummary; readonly logits?: Float32Array; readonly gpuBytes?: number }
  | { readonly ok: false; readonly error: string; readonly device: boolean }
);
