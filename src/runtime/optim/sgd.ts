import { checkState, eachSegment } from './ranges.ts';
import type { Optimizer, OptimizerOptions, OptimizerParams, OptimizerState, ParamRange } from './types.ts';

/**
 * SGD as torch.optim.SGD: L2 weight decay, then momentum with dampening (the first step's
 * buffer is the gradient itself), optionally Nesterov:
 *   g ← g + wd·p;  b ← μ·b + (1−d)·g;  g ← nesterov ? g + μ·b : b;  p ← p − lr·g
 */
export class Sgd implements Optimizer {
  private readonly buf: Float32Array;
  private t = 0;
  private readonly from: number;

  constructor(
    private readonly p: OptimizerParams,
    readonly numel: number,
    private readonly opts: OptimizerOptions = {},
  ) {
    this.from = opts.from ?? 0;
    this.buf = new Float32Array(numel);
  }

  step(params: Float32Array, grads: Float32Array, lr: number, segments: readonly ParamRange[]): void {
    const { momentum: mu, dampening, nesterov } = this.p;
    const first = this.t === 0;
    this.t++;
    const { buf, from } = this;
    eachSegment(segments, from, this.numel, this.p.weight_decay, this.opts.noDecay, (lo, hi, wd) => {
      for (let j = lo; j < hi; j++) {
        const i = j - from;
        let g = grads[j]! + wd * params[j]!;
        if (mu !== 0) {
          const b = first ? g : mu * buf[i]! + (1 - dampening) * g;
          buf[i] = b;
          g = nesterov ? g + mu * b : b;
        }
        params[j] = params[j]! - lr * g;
      }
    });
  }

  state(): OptimizerState {
    return { buffers: { momentum_buffer: this.buf }, step: this.t };
  }

  loadState(s: OptimizerState): void {
    checkState(s, this.state().buffers, 'Sgd');
    this.buf.set(s.buffers.momentum_buffer!);
    this.t = s.step;
  }
}
