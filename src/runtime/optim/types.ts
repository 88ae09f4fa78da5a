import type { ParamSegment } from '../engine/flat_params.ts';

/**
 * An optimizer over a flat float32 buffer (DeepSpeed's flat buffers): it updates
 * params[from, to) from grads[from, to) and keeps its state for that range only, so a ZeRO rank
 * can own one shard. `segments` lets per-parameter rules (Lamb's trust ratio) see the boundaries.
 */
export interface FlatOptimizer {
  step(params: Float32Array, grads: Float32Array, lr: number, segments: readonly ParamSegment[]): void;
  /** Named state buffers and scalars (checkpoints). */
  state(): { buffers: Record<string, Float32Array>; step: number };
  loadState(s: { buffers: Record<string, Float32Array>; step: number }): void;
}

export interface OptimizerParams {
  readonly lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weight_decay: number;
  readonly bias_correction: boolean;
  readonly momentum: number;
  readonly nesterov: boolean;
  readonly dampening: number;
  readonly max_coeff: number;
  readonly min_coeff: number;
}
