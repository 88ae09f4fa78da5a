import type { FlatOptimizer, OptimizerParams } from './types.ts';

/**
 * Adam and AdamW on a flat buffer range [from, from + m.length).
 * Adam (PyTorch/DeepSpeed, adam_w_mode false): weight decay is L2, added to the gradient.
 * AdamW (decoupled): p ← p − lr·wd·p, then the Adam update.
 *   m ← β1·m + (1−β1)·g;  v ← β2·v + (1−β2)·g²
 *   p ← p − lr · (m / (1−β1ᵗ)) / (√(v / (1−β2ᵗ)) + ε)
 */
export class Adam implements FlatOptimizer {
  private m: Float32Array;
  private v: Float32Array;
  private t = 0;
  constructor(
    private readonly p: OptimizerParams,
    private readonly decoupled: boolean,
    numel: number,
    private readonly from = 0,
  ) {
    this.m = new Float32Array(numel);
    this.v = new Float32Array(numel);
  }

  step(params: Float32Array, grads: Float32Array, lr: number): void {
    this.t++;
    const [b1, b2] = this.p.betas;
    const { eps, weight_decay: wd } = this.p;
    const c1 = this.p.bias_correction ? 1 - b1 ** this.t : 1;
    const c2 = this.p.bias_correction ? 1 - b2 ** this.t : 1;
    const stepSize = lr / c1;
    const sqrtC2 = Math.sqrt(c2);
    const { m, v, from } = this;
    const l2 = this.decoupled ? 0 : wd;
    const decay = this.decoupled ? 1 - lr * wd : 1;
    for (let i = 0; i < m.length; i++) {
      const j = from + i;
      const g = grads[j]! + l2 * params[j]!;
      const mi = b1 * m[i]! + (1 - b1) * g;
      const vi = b2 * v[i]! + (1 - b2) * g * g;
      m[i] = mi;
      v[i] = vi;
      params[j] = params[j]! * decay - (stepSize * mi) / (Math.sqrt(vi) / sqrtC2 + eps);
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
