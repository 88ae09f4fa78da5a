import { checkState, eachSegment } from './ranges.ts';
import type { Optimizer, OptimizerOptions, OptimizerParams, OptimizerState, ParamRange } from './types.ts';

/**
 * LAMB (You et al. 2019) as DeepSpeed's FusedLamb kernel computes it, per parameter:
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   u = (m/c1) / (√(v/c2) + ε) + wd·p                    (the Adam direction plus decay)
 *   r = clamp(‖p‖ / ‖u‖, min_coeff, max_coeff), r = 1 when either norm is 0
 *   p ← p − lr·r·u
 * Norms are over the part of the parameter inside this optimizer's range: under ZeRO a
 * parameter cut across shards would need its two squared sums all-reduced first.
 */
export class Lamb implements Optimizer {
  private readonly m: Float32Array;
  private readonly v: Float32Array;
  /** u of the current parameter, kept between the norm pass and the update pass. */
  private readonly u: Float32Array;
  private t = 0;
  private readonly from: number;
  /** The trust ratio of each segment at the last step (diagnostics, tests). */
  lastTrustRatios: number[] = [];

  constructor(
    private readonly p: OptimizerParams,
    readonly numel: number,
    private readonly opts: OptimizerOptions = {},
  ) {
    this.from = opts.from ?? 0;
    this.m = new Float32Array(numel);
    this.v = new Float32Array(numel);
    this.u = new Float32Array(numel);
  }

  step(params: Float32Array, grads: Float32Array, lr: number, segments: readonly ParamRange[]): void {
    const betas = this.opts.betasAt?.(this.t) ?? this.p.betas;
    this.t++;
    const b1 = betas[0];
    const b2 = betas[1];
    const { eps, max_coeff, min_coeff } = this.p;
    const c1 = this.p.bias_correction ? 1 - b1 ** this.t : 1;
    const c2 = this.p.bias_correction ? 1 - b2 ** this.t : 1;
    const { m, v, u, from } = this;
    const numSegs = segments.length || 1;
    if (this.lastTrustRatios.length !== numSegs) this.lastTrustRatios = new Array<number>(numSegs).fill(0);
    eachSegment(segments, from, this.numel, this.p.weight_decay, this.opts.noDecay, (lo, hi, wd, k) => {
      // Pass 1: moments, the direction u, and both squared norms (summed in float64).
      let pn = 0;
      let un = 0;
      for (let j = lo; j < hi; j++) {
        const i = j - from;
        const g = grads[j]!;
        const pj = params[j]!;
        const mi = b1 * m[i]! + (1 - b1) * g;
        const vi = b2 * v[i]! + (1 - b2) * g * g;
        m[i] = mi;
        v[i] = vi;
        const ui = mi / c1 / (Math.sqrt(vi / c2) + eps) + wd * pj;
        u[i] = ui;
        pn += pj * pj;
        un += ui * ui;
      }
      pn = Math.sqrt(pn);
      un = Math.sqrt(un);
      const r = pn !== 0 && un !== 0 ? Math.min(max_coeff, Math.max(min_coeff, pn / un)) : 1;
      this.lastTrustRatios[k] = r;
      // Pass 2: the update, scaled by this parameter's trust ratio.
      const scale = lr * r;
      for (let j = lo; j < hi; j++) params[j] = params[j]! - scale * u[j - from]!;
    });
  }

  state(): OptimizerState {
    return { buffers: { exp_avg: this.m, exp_avg_sq: this.v }, step: this.t };
  }

  loadState(s: OptimizerState): void {
    checkState(s, this.state().buffers, 'Lamb');
    this.m.set(s.buffers.exp_avg!);
    this.v.set(s.buffers.exp_avg_sq!);
    this.t = s.step;
  }
}
