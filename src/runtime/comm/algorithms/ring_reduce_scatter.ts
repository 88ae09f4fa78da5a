/**
 * Ring reduce-scatter, chunked and pipelined. In step s (0 … n-2) rank r receives segment
 * (r-s-2) mod n from rank r-1, adds its own contribution and passes the partial sum on to
 * rank r+1 — chunk by chunk, so chunk k of step s+1 leaves as soon as chunk k of step s is in.
 * After n-1 steps rank r holds the full reduction of segment r.
 *
 *   n = 3, step 0:  r0 sends seg 2 → r1,  r1 sends seg 0 → r2,  r2 sends seg 1 → r0
 */
import type { Ctx } from '../context.ts';
import type { ReduceOp, WireDtype } from '../types.ts';
import { encode, reduceInto } from '../wire.ts';
import { chunksOf, mod, ringOf, type Range } from './chunks.ts';

export interface RingReduceSpec {
  segments: readonly Range[];
  op: ReduceOp;
  dtype: WireDtype;
  /** This rank's contribution to [lo, hi). */
  local(lo: number, hi: number): Float32Array;
  /**
   * Where the partial sum of [lo, hi) accumulates, holding the local contribution on return:
   * the buffer itself for all-reduce; a temporary, or (final) the output, for reduce-scatter.
   */
  accumulator(lo: number, hi: number, final: boolean): Float32Array;
}

export async function ringReduceScatter(ctx: Ctx, spec: RingReduceSpec): Promise<void> {
  const { rank: r, worldSize: n } = ctx.g;
  if (n === 1) return;
  const { next, prev, bpe, chunkElems } = ringOf(r, n, ctx.g.chunkBytes, spec.dtype);

  for (const [lo, hi] of chunksOf(spec.segments[mod(r - 1, n)]!, chunkElems)) {
    ctx.send(next, lo, encode(spec.local(lo, hi), spec.dtype));
  }
  for (let s = 0; s < n - 1; s++) {
    const final = s === n - 2;
    for (const [lo, hi] of chunksOf(spec.segments[mod(r - s - 2, n)]!, chunkElems)) {
      const acc = spec.accumulator(lo, hi, final);
      await ctx.recvWith(prev, lo, (hi - lo) * bpe, (payload) => reduceInto(payload, spec.dtype, acc, spec.op));
      if (!final) ctx.send(next, lo, encode(acc, spec.dtype));
    }
  }
}
