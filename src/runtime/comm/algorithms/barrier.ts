/**
 * Dissemination barrier: in round k rank r signals r + 2^k and waits for r - 2^k. After
 * ceil(log2 n) rounds every rank has (transitively) heard from every other.
 */
import type { Ctx } from '../context.ts';
import { mod } from './chunks.ts';

const EMPTY = Buffer.alloc(0);

export async function barrier(ctx: Ctx): Promise<void> {
  const { rank: r, worldSize: n } = ctx.g;
  for (let k = 1; k < n; k *= 2) {
    // The round number travels as the chunk offset, so rounds cannot be confused.
    ctx.send(mod(r + k, n), k, EMPTY);
    await ctx.recv(mod(r - k, n), k, 0);
  }
}
