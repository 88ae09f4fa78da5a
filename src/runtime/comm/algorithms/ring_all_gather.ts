/**
 * Ring all-gather, chunked and pipelined. Rank r starts with segment r; in step s it receives
 * segment (r-s-1) mod n from rank r-1 and forwards the very same bytes to rank r+1, so every
 * rank ends with bit-identical copies of what each owner sent.
 */
import type { Ctx } from '../context.ts';
import type { WireDtype } from '../types.ts';
import { bytesPerElement, decodeInto, encode } from '../wire.ts';
import { chunksOf, mod, type Range } from './chunks.ts';

export interface RingGatherSpec {
  segments: readonly Range[];
  dtype: WireDtype;
  /** The destination of [lo, hi); for this rank's own segment, the data to send. */
  target(lo: number, hi: number): Float32Array;
}

export async function ringAllGather(ctx: Ctx, spec: RingGatherSpec): Promise<void> {
  const { rank: r, worldSize: n } = ctx.g;
  if (n === 1) return;
  const next = mod(r + 1, n);
  const prev = mod(r - 1, n);
  const bpe = bytesPerElement(spec.dtype);
  const chunkElems = Math.max(1, Math.floor(ctx.g.chunkBytes / bpe));

  for (const [lo, hi] of chunksOf(spec.segments[r]!, chunkElems)) {
    ctx.send(next, lo, encode(spec.target(lo, hi), spec.dtype));
  }
  for (let s = 0; s < n - 1; s++) {
    for (const [lo, hi] of chunksOf(spec.segments[mod(r - s - 1, n)]!, chunkElems)) {
      const payload = await ctx.recv(prev, lo, (hi - lo) * bpe);
      decodeInto(payload, spec.dtype, spec.target(lo, hi));
      if (s < n - 2) ctx.send(next, lo, payload);
    }
  }
}
