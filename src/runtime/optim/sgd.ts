import type { FlatOptimizer, OptimizerParams } from './types.ts';

/** SGD with momentum, dampening, nesterov and L2 weight decay (PyTorch semantics). */
export class Sgd implements FlatOptimizer {
  private buf: Float32Array;
  private t = 0;
  constructor(
    private readonly p: OptimizerParams,
    numel: number,
    private readonly from = 0,
  ) {
    this.buf = new Float32Array(numel);
  }

  step(params: Float32Array, grads: Float32Array, lr: number): void {
    const { momentum: mu, dampening, nesterov, weight_decay: wd } = this.p;
    const first = this.t === 0;
    this.t++;
    const { buf, from } = this;
    for (let i = 0; i < buf.length; i++) {
      const j = from + i;
      let g = grads[j]! + wd * params[j]!;
      if (mu !== 0) {
        const b = first ? g : mu * buf[i]! + (1 - dampening) * g;
        buf[i] = b;
        g = nesterov ? g + mu * b : b;
      }
      params[j] = params[j]! - lr * g;
    }
  }

  state() {
    return { buffers: { momentum_buffer: this.buf }, step: this.t };
  }

  loadState(s: { buffers: Record<string, Float32Array>; step: number }): void {
    this.buf.set(s.buffers.momentum_buffer!);
    this.t = s.step;
  }
}
