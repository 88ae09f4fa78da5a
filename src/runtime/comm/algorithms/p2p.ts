/** Point-to-point messages, streamed in chunks on their own channel (outside collective order). */
import type { Ctx } from '../context.ts';
import { decodeInto, encode } from '../wire.ts';
import { chunksOf } from './chunks.ts';

export function sendTo(ctx: Ctx, buf: Float32Array, dst: number): void {
  const chunkElems = Math.max(1, Math.floor(ctx.g.chunkBytes / 4));
  for (const [lo, hi] of chunksOf([0, buf.length], chunkElems)) ctx.send(dst, lo, encode(buf.subarray(lo, hi), 'float32'));
}

export async function recvFrom(ctx: Ctx, buf: Float32Array, src: number): Promise<void> {
  const chunkElems = Math.max(1, Math.floor(ctx.g.chunkBytes / 4));
  for (const [lo, hi] of chunksOf([0, buf.length], chunkElems)) {
    await ctx.recvWith(src, lo, (hi - lo) * 4, (payload) => decodeInto(payload, 'float32', buf.subarray(lo, hi)));
  }
}
