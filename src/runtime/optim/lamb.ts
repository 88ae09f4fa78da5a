import type { ParamSegment } from '../engine/flat_params.ts';
import type { FlatOptimizer, OptimizerParams } from './types.ts';

/**
 * LAMB (You et al. 2019) as DeepSpeed's FusedLamb computes it: per parameter, the Adam direction
 * u = m̂ / (√v̂ + ε) + wd·p, then p ← p − lr · r · u with the trust ratio
 * r = clamp(‖p‖ / ‖u‖, min_coeff, max_coeff) (r = 1 when either norm is 0).
 */
export class Lamb implements FlatOptimizer {
  private m: Float32Array;
  private v: Float32Array;
  private u: Float32Array;
  private t = 0;
  constructor(
    private readonly p: OptimizerParams,
    numel: number,
    private readonly from = 0,
  ) {
    this.m = new Float32Array(numel);
    this.v = new Float32Array(numel);
    this.u = new Float32Array(numel);
  }

  step(params: Float32Array, grads: Float32Array, lr: number, segments: readonly ParamSegment[]): void {
    this.t++;
    const [b1, b2] = this.p.betas;
    const { eps, weight_decay: wd, max_coeff, min_coeff } = this.p;
    const c1 = this.p.bias_correction ? 1 - b1 ** this.t : 1;
    const c2 = this.p.bias_correction ? 1 - b2 ** this.t : 1;
    const { m, v, u, from } = this;
    const to = from + m.length;
    for (const s of segments) {
      const lo = Math.max(s.offset, from);
      const hi = Math.min(s.offset + s.numel, to);
      if (lo >= hi) continue;
      let pn = 0;
      let un = 0;
      for (let j = lo; j < hi; j++) {
        const i = j - from;
        const g = grads[j]!;
        m[i] = b1 * m[i]! + (1 - b1) * g;
        v[i] = b2 * v[i]! + (1 - b2) * g * g;
        const ui = m[i]! / c1 / (Math.sqrt(v[i]! / c2) + eps) + wd * params[j]!;
        u[i] = ui;
        pn += params[j]! * params[j]!;
        un += ui * ui;
      }
      pn = Math.sqrt(pn);
      un = Math.sqrt(un);
      const r = pn > 0 && un > 0 ? Math.min(max_coeff, Math.max(min_coeff, pn / un)) : 1;
      for (let j = lo; j < hi; j++) params[j] = params[j]! - lr * r * u[j - from]!;
    }
  }

  state() {
    return { buffers: { exp_avg: this.m, exp_avg_sq: this.v }, step: this.t };
  }

  loadState(s: { buffers: Record<string, Float32Array>; step: number }): void {
    this.m.set(s.buffers.exp_avg!);
    this.v.set(s.buffers.exp_avg_sq!);
    this.t = s.step;
  }
}
