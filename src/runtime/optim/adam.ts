import { adamRange } from './adam_kernel.ts';
import { checkState, eachSegment } from './ranges.ts';
import type { Optimizer, OptimizerOptions, OptimizerParams, OptimizerState, ParamRange } from './types.ts';

/**
 * Adam with bias correction and L2 weight decay added to the gradient (torch.optim.Adam,
 * DeepSpeed's Adam with adam_w_mode false). AdamW (decoupled decay) extends it.
 */
export class Adam implements Optimizer {
  protected readonly m: Float32Array;
  protected readonly v: Float32Array;
  protected t = 0;
  protected readonly from: number;

  constructor(
    protected readonly p: OptimizerParams,
    readonly numel: number,
    protected readonly opts: OptimizerOptions = {},
  ) {
    this.from = opts.from ?? 0;
    this.m = new Float32Array(numel);
    this.v = new Float32Array(numel);
  }

  /** true for AdamW: decay multiplies p by (1 − lr·wd) instead of adding wd·p to the gradient. */
  protected get decoupled(): boolean {
    return false;
  }

  step(params: Float32Array, grads: Float32Array, lr: number, segments: readonly ParamRange[]): void {
    const betas = this.opts.betasAt?.(this.t) ?? this.p.betas;
    this.t++;
    const b1 = betas[0];
    const b2 = betas[1];
    const c1 = this.p.bias_correction ? 1 - b1 ** this.t : 1;
    const c2 = this.p.bias_correction ? 1 - b2 ** this.t : 1;
    const stepSize = lr / c1;
    const sqrtC2 = Math.sqrt(c2);
    const { from, m, v } = this;
    const decoupled = this.decoupled;
    eachSegment(segments, from, this.numel, this.p.weight_decay, this.opts.noDecay, (lo, hi, wd) => {
      const l2 = decoupled ? 0 : wd;
      const keep = decoupled ? 1 - lr * wd : 1;
      adamRange(params, grads, m, v, lo, hi, from, b1, b2, this.p.eps, stepSize, sqrtC2, l2, keep);
    });
  }

  state(): OptimizerState {
    return { buffers: { exp_avg: this.m, exp_avg_sq: this.v }, step: this.t };
  }

  loadState(s: OptimizerState): void {
    checkState(s, this.state().buffers, this.constructor.name);
    this.m.set(s.buffers.exp_avg!);
    this.v.set(s.buffers.exp_avg_sq!);
    this.t = s.step;
  }
}
