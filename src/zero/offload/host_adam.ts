/**
 * ZeRO-Offload's optimizer: Adam/AdamW whose moments live in SharedArrayBuffers and whose step
 * runs on a pool of host worker threads (piscina), each on a slice of the shard, reading and
 * writing the shard's parameters and gradients in place (SharedArrayBuffer views: no copies).
 * The compute thread keeps the parameters; it only plans the step (bias corrections, the
 * per-parameter decay) and waits. Same per-element arithmetic as the in-line Adam
 * (adam_kernel.ts), so a run with offload gives the same numbers.
 *
 *   shard [S]: | piece 0 … | piece 1 …  | …       pieces cut where segments or worker slices end
 *              [ worker 0 )[ worker 1     )         (≈ S / threads elements each)
 */
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { assert } from '../../errors.ts';
import { adamRange } from '../../runtime/optim/adam_kernel.ts';
import { checkState, eachSegment } from '../../runtime/optim/ranges.ts';
import type { Optimizer, OptimizerParams, OptimizerState, ParamRange } from '../../runtime/optim/types.ts';
import type { AdamTask } from './adam_worker.ts';

const REGISTER = fileURLToPath(new URL('../../../bin/register.js', import.meta.url));
const WORKER = new URL('./adam_worker.ts', import.meta.url).href;

let shared: Piscina | null = null;
/** One pool per process, a thread per core; idle threads do not keep the process alive. */
function pool(): Piscina {
  shared ??= new Piscina({ filename: WORKER, minThreads: availableParallelism(), maxThreads: availableParallelism(), execArgv: ['--import', REGISTER] });
  return shared;
}

/** A Float32Array over a SharedArrayBuffer (host workers see it without a copy). */
export function sharedFloats(n: number): Float32Array {
  return new Float32Array(new SharedArrayBuffer(4 * n));
}

type Piece = readonly [lo: number, hi: number, l2: number, keep: number];

export class HostAdam implements Optimizer {
  readonly m: Float32Array;
  readonly v: Float32Array;
  private t = 0;
  readonly threads: number;

  constructor(
    private readonly p: OptimizerParams,
    /** AdamW's decoupled decay (true) or Adam's L2 (false). */
    private readonly decoupled: boolean,
    readonly numel: number,
    private readonly betasAt?: (step: number) => readonly [number, number] | null,
  ) {
    this.m = sharedFloats(numel);
    this.v = sharedFloats(numel);
    this.threads = availableParallelism();
  }

  /** The step's constants and pieces (Adam.step's arithmetic), advancing t. */
  private plan(lr: number, segments: readonly ParamRange[]): { pieces: Piece[]; b1: number; b2: number; stepSize: number; sqrtC2: number } {
    const [b1, b2] = this.betasAt?.(this.t) ?? this.p.betas;
    this.t++;
    const c1 = this.p.bias_correction ? 1 - b1 ** this.t : 1;
    const c2 = this.p.bias_correction ? 1 - b2 ** this.t : 1;
    const pieces: Piece[] = [];
    eachSegment(segments, 0, this.numel, this.p.weight_decay, undefined, (lo, hi, wd) => {
      pieces.push([lo, hi, this.decoupled ? 0 : wd, this.decoupled ? 1 - lr * wd : 1]);
    });
    return { pieces, b1, b2, stepSize: lr / c1, sqrtC2: Math.sqrt(c2) };
  }

  /** In-line (on the calling thread): the same update, for callers that cannot wait. */
  step(params: Float32Array, grads: Float32Array, lr: number, segments: readonly ParamRange[]): void {
    const q = this.plan(lr, segments);
    for (const [lo, hi, l2, keep] of q.pieces) adamRange(params, grads, this.m, this.v, lo, hi, 0, q.b1, q.b2, this.p.eps, q.stepSize, q.sqrtC2, l2, keep);
  }

  /** On the host workers: params and grads must be SharedArrayBuffer views of this optimizer's [numel]. */
  async stepAsync(params: Float32Array, grads: Float32Array, lr: number, segments: readonly ParamRange[]): Promise<void> {
    assert(params.buffer instanceof SharedArrayBuffer && grads.buffer instanceof SharedArrayBuffer, 'HostAdam.stepAsync: params and grads must live in SharedArrayBuffers (a copy would lose the update)');
    const q = this.plan(lr, segments);
    const per = Math.ceil(this.numel / this.threads);
    const slices: Piece[][] = Array.from({ length: this.threads }, () => []);
    for (const [lo, hi, l2, keep] of q.pieces) {
      for (let a = lo; a < hi;) {
        const w = Math.floor(a / per);
        const b = Math.min(hi, (w + 1) * per);
        slices[w]!.push([a, b, l2, keep]);
        a = b;
      }
    }
    const base = { params, grads, m: this.m, v: this.v, b1: q.b1, b2: q.b2, eps: this.p.eps, stepSize: q.stepSize, sqrtC2: q.sqrtC2 };
    await Promise.all(slices.filter((s) => s.length > 0).map((ranges) => pool().run({ ...base, ranges } satisfies AdamTask)));
  }

  state(): OptimizerState {
    return { buffers: { exp_avg: this.m, exp_avg_sq: this.v }, step: this.t };
  }

  loadState(s: OptimizerState): void {
    checkState(s, this.state().buffers, 'HostAdam');
    this.m.set(s.buffers.exp_avg!);
    this.v.set(s.buffers.exp_avg_sq!);
    this.t = s.step;
  }
}
