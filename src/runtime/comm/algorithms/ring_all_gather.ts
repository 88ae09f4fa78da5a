/**
 * Ring all-gather, chunked and pipelined. Rank r starts with segment r; in step s it receives
 * segment (r-s-1) mod n from rank r-1 and forwards the very same bytes to rank r+1, so every
 * rank ends with bit-identical copies of what each owner sent.
 */
import type { Ctx } from '../context.ts';
import type { WireDtype } from '../types.ts';
import { encode } from '../wire.ts';
import { chunksOf, mod, ringOf, type Range } from './chunks.ts';

export interface RingGatherSpec {
  segments: readonly Range[];
  dtype: WireDtype;
  /** The destination of [lo, hi); for this rank's own segment, the data to send. */
  target(lo: number, hi: number): Float32Array;
}

export async function ringAllGather(ctx: Ctx, spec: RingGatherSpec): Promise<void> {
  const { rank: r, worldSize: n } = ctx.g;
  if (n === 1) return;
  const { next, prev, chunkElems } = ringOf(r, n, ctx.g.chunkBytes, spec.dtype);

  for (const [lo, hi] of chunksOf(spec.segments[r]!, chunkElems)) {
    ctx.send(next, lo, encode(spec.target(lo, hi), spec.dtype));
  }
  // float32 chunks are their wire bytes: let them be read straight into place.
  if (spec.dtype === 'float32') {
    for (let s = 0; s < n - 1; s++) {
      for (const [lo, hi] of chunksOf(spec.segments[mod(r - s - 1, n)]!, chunkElems)) if (hi > lo) ctx.post(prev, lo, spec.target(lo, hi));
    }
  }
  for (let s = 0; s < n - 1; s++) {
    const forward = s < n - 2;
    for (const [lo, hi] of chunksOf(spec.segments[mod(r - s - 1, n)]!, chunkElems)) {
      // A forwarded payload must outlive this step, until the collective's flush.
      const payload = await ctx.recvInto(prev, lo, spec.target(lo, hi), spec.dtype, forward);
      if (forward) ctx.send(next, lo, payload);
    }
  }
}
