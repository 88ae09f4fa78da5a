import type { SchedulerOutput } from '../scheduler/output.ts';
import type { RunnerBatch } from './batch.ts';
import type { ModelRunnerOptions, RunnerModel } from './model_runner.ts';

/**
 * What the engine needs of a model runner, whatever the device: one implementation per device
 * (ModelRunner: wasm on the CPU; WebGpuRunner: WGSL on a GPU), chosen at the edge
 * (chooseRunner, `--device`). Both are synchronous: the WebGPU one waits for its device thread.
 */
export interface Runner {
  /** KV blocks per layer in the device pool, and tokens per block (the engine's KV manager must agree). */
  readonly numBlocks: number;
  readonly blockSize: number;
  /** Host threads that run the forward (1 for a GPU runner: the device runs it). */
  readonly numThreads: number;
  /** Which device this is, for logs and /health: 'cpu' or 'webgpu (<adapter>)'. */
  readonly device: string;
  /** Swaps and copy-on-write copies a scheduler step asks for, in its order, before the forward. */
  applyCacheOps(out: Pick<SchedulerOutput, 'swappedOut' | 'swappedIn' | 'blockCopies'>): void;
  /** Forward over the batch; writes its K/V. Returns logits [sampleRows.length, V] (row-major). */
  execute(batch: RunnerBatch): Float32Array;
  /** Frees the weights and threads; the runner is unusable afterwards. */
  dispose(): void;
}

/** Makes a device's runner for an engine's sizes (ModelRunner.create, WebGpuRunner.create; chooseDevice picks one). */
export type RunnerFactory = (model: RunnerModel, opts: ModelRunnerOptions) => Promise<Runner>;
