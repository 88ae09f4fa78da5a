/**
 * Broadcast as a pipelined chain root → root+1 → … → root-1: each rank forwards a chunk as soon
 * as it has it, so a big buffer costs about one buffer time plus (n-2) chunk times.
 */
import type { Ctx } from '../context.ts';
import { decodeInto, encode } from '../wire.ts';
import { chunksOf, mod } from './chunks.ts';

export async function broadcast(ctx: Ctx, buf: Float32Array, root: number): Promise<void> {
  const { rank: r, worldSize: n } = ctx.g;
  if (n === 1) return;
  const pos = mod(r - root, n);
  const next = pos < n - 1 ? mod(r + 1, n) : -1;
  const chunkElems = Math.max(1, Math.floor(ctx.g.chunkBytes / 4));
  for (const [lo, hi] of chunksOf([0, buf.length], chunkElems)) {
    if (pos === 0) {
      ctx.send(next, lo, encode(buf.subarray(lo, hi), 'float32'));
      continue;
    }
    if (next < 0) {
      await ctx.recvWith(mod(r - 1, n), lo, (hi - lo) * 4, (payload) => decodeInto(payload, 'float32', buf.subarray(lo, hi)));
      continue;
    }
    const payload = await ctx.recv(mod(r - 1, n), lo, (hi - lo) * 4);
    decodeInto(payload, 'float32', buf.subarray(lo, hi));
    ctx.send(next, lo, payload);
  }
}
