import type { Optimizer } from '../optim/types.ts';
import type { FlatParams } from './flat_params.ts';
import type { LayerHooks } from './executor.ts';
import type { ZeroLayout } from '../checkpoint/consolidate.ts';

/**
 * What happens to gradients and parameters around a step, across data-parallel ranks: the
 * contract every ZeRO stage implements (src/zero/stage0.ts … stage3.ts, chosen once in
 * src/zero/choose.ts). The engine runs the layer list and the accumulation loop; the stage owns
 * where parameters, gradients and optimizer state live, and the reduce → clip → step at the
 * accumulation boundary.
 *
 * The flat buffer of `padded` elements is cut into worldSize shards of equal length S:
 *
 *   flat: | shard 0: [0, S) | shard 1: [S, 2S) | … | shard n-1 | (padding at the end of the last)
 */
export interface ZeroStage {
  readonly stage: 0 | 1 | 2 | 3;
  readonly worldSize: number;
  /** The layout; `flat.data` / `flat.grads` are empty where this stage keeps shards only. */
  readonly flat: FlatParams;
  /** The optimizer of this rank's part (its whole range at stage 0, its shard at 1-3). */
  readonly optimizer: Optimizer;
  /** Σ over data-parallel ranks (token counts, losses); x itself on one rank. */
  sumScalar(x: number): Promise<number>;
  /** Starts an accumulation window: zero gradients, hand out this step's parameters. */
  beginStep(): StepHooks;
  /**
   * The accumulation boundary: finish reducing gradients, clip them to `maxNorm` by the global
   * L2 norm (0 = off), and step the optimizer, unless the norm is not finite: then the step is
   * skipped (DeepSpeed's overflow) and parameters and optimizer state are left as they were.
   */
  endStep(lr: number, maxNorm: number): Promise<StepOutcome>;
  /** Bytes this rank holds, as allocated. */
  memoryReport(): MemoryReport;
  /**
   * The whole model's parameters [padded], gathered from every rank's shard: a collective that
   * every rank calls. Only stages that shard parameters have it (flat.data holds them otherwise).
   */
  gatherFullParams?(): Promise<Float32Array>;
  /** This rank's checkpoint buffers (see src/zero/checkpoint.ts for the layout). */
  checkpointFiles(): { files: Record<string, Float32Array>; layout: ZeroLayout };
  /** Restores from full (consolidated) float32 state: params [numel], optimizer buffers [numel]. */
  loadFull(state: FullState): void;
  /**
   * Optional, after loadFull: state that belongs to this rank alone and is not part of the
   * consolidated training state (1-bit Adam's error feedback). Given this rank's saved files when
   * the checkpoint was saved at this world size, null otherwise.
   */
  loadRankFiles?(files: Readonly<Record<string, unknown>> | null): void;
}

/** The step's layer hooks; `close` frees what beginStep handed out (call it even when the step fails). */
export interface StepHooks extends LayerHooks {
  close(): void;
}

export interface StepOutcome {
  /** L2 norm of the reduced gradient before clipping (Infinity or NaN on overflow). */
  readonly gradNorm: number;
  /** true: the norm was not finite and the optimizer step was skipped. */
  readonly overflow: boolean;
  /** Bytes this rank sent in collectives during the step (0 on one rank). */
  readonly commBytes: number;
}

/** Allocated bytes on this rank, by kind (ZeRO's model states). Host memory: the tensors live there on CPU backends. */
export interface MemoryReport {
  readonly stage: number;
  readonly worldSize: number;
  /** Parameters Ψ of the model. */
  readonly numel: number;
  readonly params: number;
  readonly grads: number;
  readonly optimizer: number;
  /** Reused staging buffers (gradient buckets, gathered layers): not model state. */
  readonly buffers: number;
  readonly total: number;
  /**
   * Bytes of parameter tensors the tensor backend holds while a step runs, beside the above: the
   * whole model uploaded once per step at stages 0-2 (a second copy of the parameters), the
   * resident parameters and the live layer(s) at stage 3. Freed when the step ends.
   */
  readonly stepTensors: number;
  /** true: optimizer state and step live with the host worker threads (ZeRO-Offload); the compute thread keeps parameters. */
  readonly optimizerOffloaded: boolean;
}

/** How a checkpoint's buffers are cut: defined with the checkpoint code that reads it. */
export type { ZeroLayout };

export interface FullState {
  readonly params: Float32Array;
  readonly optimizer: Record<string, Float32Array>;
  readonly optimizerStep: number;
}
