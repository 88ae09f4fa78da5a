/**
 * Ring all-reduce = ring reduce-scatter (rank r ends owning segment r) + ring all-gather.
 * The owner finishes its segment (divide for avg, round to the wire dtype) before sending it,
 * so every rank ends with exactly the owner's bytes: bit-identical results on all ranks.
 * Traffic per rank: 2 (n-1)/n × the buffer, each way.
 */
import type { Ctx } from '../context.ts';
import type { ReduceOp, WireDtype } from '../types.ts';
import { roundThrough } from '../wire.ts';
import { evenSegments } from './chunks.ts';
import { ringAllGather } from './ring_all_gather.ts';
import { ringReduceScatter } from './ring_reduce_scatter.ts';

export async function allReduce(ctx: Ctx, buf: Float32Array, op: ReduceOp, dtype: WireDtype): Promise<void> {
  const n = ctx.g.worldSize;
  if (n === 1) return;
  const segments = evenSegments(buf.length, n);
  const view = (lo: number, hi: number): Float32Array => buf.subarray(lo, hi);
  await ringReduceScatter(ctx, { segments, op, dtype, local: view, accumulator: view });

  const [lo, hi] = segments[ctx.g.rank]!;
  const own = buf.subarray(lo, hi);
  if (op === 'avg') for (let i = 0; i < own.length; i++) own[i]! /= n;
  roundThrough(own, dtype);
  // float32 frames of the reduce-scatter are views of buf; they must be in the kernel before
  // the all-gather overwrites those segments.
  await ctx.flush();
  await ringAllGather(ctx, { segments, dtype, target: view });
}
