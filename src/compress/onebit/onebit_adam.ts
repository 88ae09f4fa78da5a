/**
 * The arithmetic of 1-bit Adam (Tang et al. 2021; DeepSpeed's OnebitAdam), without the
 * communication, which its stage (onebit_stage.ts) owns. Two phases, by step t:
 *
 *   warm-up, t ≤ freeze_step: Adam on the all-reduced gradient, the same update as AdamW here
 *     (DeepSpeed's OnebitAdam decays weights decoupled: update += wd·p):
 *       m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²;  p ← p·(1 − lr·wd) − (lr/c1)·m/(√v/√c2 + ε)
 *   compressed, t > freeze_step: v stays as warm-up left it (and so does its bias correction c2,
 *     taken at t = freeze_step); each rank folds its own gradient into m (momentumStep), the
 *     stage replaces m by the compressed mean over ranks, then applyFrozen moves p with it.
 *
 * c1 = 1 − β1ᵗ, c2 = 1 − β2ᵗ, both 1 when bias_correction is false. (DeepSpeed's OnebitAdam
 * takes bias_correction but never applies it; here it means what it means for Adam, so warm-up
 * equals Adam step for step.)
 */
import { adamRange } from '../../runtime/optim/adam_kernel.ts';
import { checkState, eachSegment } from '../../runtime/optim/ranges.ts';
import type { Optimizer, OptimizerOptions, OptimizerState, ParamRange } from '../../runtime/optim/types.ts';
import { assert } from '../../errors.ts';

export interface OneBitAdamParams {
  readonly lr: number;
  readonly betas: readonly [number, number];
  readonly eps: number;
  readonly weight_decay: number;
  readonly bias_correction: boolean;
  /** Steps of uncompressed warm-up; the variance is frozen after the last of them. */
  readonly freeze_step: number;
}

export class OneBitAdam implements Optimizer {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  private t = 0;
  /** β1 of the step momentumStep began (OneCycle may cycle it). */
  private beta1 = 0;
  /** The frozen phase's denominators (see denominators()); null until first needed. */
  private denom: Float32Array | null = null;

  constructor(
    private readonly p: OneBitAdamParams,
    readonly numel: number,
    private readonly opts: Pick<OptimizerOptions, 'betasAt'> = {},
  ) {
    assert(Number.isInteger(p.freeze_step) && p.freeze_step >= 1, () => `OneBitAdam: freeze_step must be a positive integer, got ${p.freeze_step}`);
    this.m = new Float32Array(numel);
    this.v = new Float32Array(numel);
  }

  /** true once warm-up is over: the next step is a compressed one. */
  get frozen(): boolean {
    return this.t >= this.p.freeze_step;
  }

  /** The momentum [numel] the stage sends through the compressed all-reduce (live). */
  get momentum(): Float32Array {
    return this.m;
  }

  /** A warm-up step on the all-reduced gradient: AdamW's update, bit for bit. */
  step(params: Float32Array, grads: Float32Array, lr: number, segments: readonly ParamRange[]): void {
    assert(!this.frozen, () => `OneBitAdam.step: step ${this.t + 1} is past freeze_step ${this.p.freeze_step}; compressed steps go through momentumStep/applyFrozen`);
    const [b1, b2] = this.betas(this.t);
    this.t++;
    const c1 = this.p.bias_correction ? 1 - b1 ** this.t : 1;
    const c2 = this.p.bias_correction ? 1 - b2 ** this.t : 1;
    const { m, v } = this;
    eachSegment(segments, 0, this.numel, this.p.weight_decay, undefined, (lo, hi, wd) => {
      adamRange(params, grads, m, v, lo, hi, 0, b1, b2, this.p.eps, lr / c1, Math.sqrt(c2), 0, 1 - lr * wd);
    });
  }

  /** A compressed step, first half: m ← β1·m + (1−β1)·scale·g with this rank's own gradient g [numel]. */
  momentumStep(grads: Float32Array, scale: number): void {
    assert(this.frozen, () => `OneBitAdam.momentumStep: step ${this.t + 1} is still warm-up (freeze_step ${this.p.freeze_step})`);
    const b1 = this.betas(this.t)[0];
    this.beta1 = b1;
    this.t++;
    const { m } = this;
    const k = (1 - b1) * scale;
    for (let i = 0; i < this.numel; i++) m[i] = b1 * m[i]! + k * grads[i]!;
  }

  /**
   * u [numel] ← m / d, d = √v/√c2_frozen + ε: the momentum in units of the frozen Adam step, the
   * form the stage sends. With v frozen and the same on every rank, the mean of u is the mean of
   * m over d, and every element is on the same ~±1 scale, so one scale per block fits them all.
   * Where the frozen v is exactly 0 the element never had a gradient in warm-up (an embedding row
   * of a token not yet seen): 1-bit compression cannot say 0, so u is masked to 0 there
   * (DeepSpeed asks the user for this exp_avg_mask).
   */
  scaledMomentum(u: Float32Array): void {
    const d = this.denominators();
    const { m } = this;
    for (let i = 0; i < this.numel; i++) u[i] = d[i] === 0 ? 0 : m[i]! / d[i]!;
  }

  /** m ← u·d: the momentum back from the stage's compressed mean of scaledMomentum. */
  setScaledMomentum(u: Float32Array): void {
    const d = this.denominators();
    const { m } = this;
    for (let i = 0; i < this.numel; i++) m[i] = u[i]! * d[i]!;
  }

  /** A compressed step, second half: p ← p·(1 − lr·wd) − (lr/c1)·m/(√v/√c2_frozen + ε). */
  applyFrozen(params: Float32Array, lr: number, segments: readonly ParamRange[]): void {
    const c1 = this.p.bias_correction ? 1 - this.beta1 ** this.t : 1;
    const stepSize = lr / c1;
    const d = this.denominators();
    const { m } = this;
    eachSegment(segments, 0, this.numel, this.p.weight_decay, undefined, (lo, hi, wd) => {
      const keep = 1 - lr * wd;
      for (let i = lo; i < hi; i++) if (d[i] !== 0) params[i] = params[i]! * keep - (stepSize * m[i]!) / d[i]!;
      else params[i] = params[i]! * keep;
    });
  }

  /** Bytes of the cached frozen-phase denominators (0 before the phase): staging, not optimizer state. */
  get cacheBytes(): number {
    return this.denom?.byteLength ?? 0;
  }

  state(): OptimizerState {
    return { buffers: { exp_avg: this.m, exp_avg_sq: this.v }, step: this.t };
  }

  loadState(s: OptimizerState): void {
    checkState(s, this.state().buffers, 'OneBitAdam');
    this.m.set(s.buffers.exp_avg!);
    this.v.set(s.buffers.exp_avg_sq!);
    this.t = s.step;
    this.denom = null;
  }

  private betas(t: number): readonly [number, number] {
    return this.opts.betasAt?.(t) ?? this.p.betas;
  }

  /**
   * d [numel] = √v/√c2_frozen + ε, fixed while v is frozen (computed once per phase; a load
   * recomputes it); 0 marks the masked elements, where v is exactly 0.
   */
  private denominators(): Float32Array {
    if (this.denom) return this.denom;
    const sqrtC2 = this.frozenSqrtC2();
    const { v } = this;
    const eps = this.p.eps;
    const d = new Float32Array(this.numel);
    for (let i = 0; i < this.numel; i++) d[i] = v[i] === 0 ? 0 : Math.sqrt(v[i]!) / sqrtC2 + eps;
    this.denom = d;
    return d;
  }

  /** √c2 of the last warm-up step (t = freeze_step), which the frozen variance keeps. */
  private frozenSqrtC2(): number {
    const F = this.p.freeze_step;
    return this.p.bias_correction ? Math.sqrt(1 - this.betas(F - 1)[1] ** F) : 1;
  }
}
