/**
 * A host worker of ZeRO-Offload (piscina): one chunk of the Adam step, in place on
 * SharedArrayBuffer views of the shard's parameters, gradients and moments (no copies). The
 * arithmetic is adam_kernel.ts's, the same as the in-line step, so results are bit-identical.
 */
import { adamRange } from '../../runtime/optim/adam_kernel.ts';

export interface AdamTask {
  readonly params: Float32Array;
  readonly grads: Float32Array;
  readonly m: Float32Array;
  readonly v: Float32Array;
  /** [lo, hi, l2, keep] per piece: flat indices into the views, Adam's L2 and AdamW's decay factor. */
  readonly ranges: readonly (readonly [number, number, number, number])[];
  readonly b1: number;
  readonly b2: number;
  readonly eps: number;
  readonly stepSize: number;
  readonly sqrtC2: number;
}

export default function step(t: AdamTask): number {
  let n = 0;
  for (const [lo, hi, l2, keep] of t.ranges) {
    adamRange(t.params, t.grads, t.m, t.v, lo, hi, 0, t.b1, t.b2, t.eps, t.stepSize, t.sqrtC2, l2, keep);
    n += hi - lo;
  }
  return n;
}
