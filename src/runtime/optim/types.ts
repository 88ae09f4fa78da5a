/**
 * The optimizers work on DeepSpeed-style flat buffers: every parameter is a range of one
 * Float32Array. An optimizer owns the range [from, from + numel) of that buffer and keeps state
 * for it alone, so a ZeRO rank can own one shard:
 *
 *   params: | embed | norm.0 | q_proj.0 | … | lm_head | pad |
 *                      [from ─────────── from + numel)          ← this optimizer's shard
 *
 * `segments` gives each parameter's range (the engine's ParamSegment fits), for the rules that
 * are per parameter: Lamb's trust ratio and the weight-decay exclusion. Each step updates the
 * parts of its range that lie inside a segment; padding between or after segments is left alone
 * (an empty segment list means the whole range is one parameter).
 */
export interface ParamRange {
  readonly name: string;
  readonly offset: number;
  readonly numel: number;
}

export interface OptimizerState {
  /** Named float32 state over this optimizer's range (exp_avg, exp_avg_sq, momentum_buffer). */
  readonly buffers: Record<string, Float32Array>;
  /** Steps taken (bias correction counts from it). */
  readonly step: number;
}

export interface Optimizer {
  step(params: Float32Array, grads: Float32Array, lr: number, segments: readonly ParamRange[]): void;
  /** Live views of the state (checkpoints copy them). */
  state(): OptimizerState;
  /** Restores a saved state; every buffer must be present with this optimizer's length. */
  loadState(s: OptimizerState): void;
}

/** The engine's older name for Optimizer. */
export type FlatOptimizer = Optimizer;

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

export interface OptimizerOptions {
  /** First element of the flat buffer this optimizer owns (default 0). */
  readonly from?: number;
  /** Parameters that take no weight decay (e.g. norms and biases); default: none, as DeepSpeed. */
  readonly noDecay?: (segment: ParamRange) => boolean;
  /** A per-step (beta1, beta2) override, 0-based step: OneCycle's cycle_momentum. */
  readonly betasAt?: (step: number) => readonly [number, number] | null;
}
