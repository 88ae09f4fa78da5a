/** All-gather: input [m] on every rank, output [n*m] with rank i's input at [i*m, (i+1)*m). */
import { assert } from '../../../errors.ts';
import type { Ctx } from '../context.ts';
import type { WireDtype } from '../types.ts';
import { roundThrough } from '../wire.ts';
import { fixedSegments } from './chunks.ts';
import { ringAllGather } from './ring_all_gather.ts';

export async function allGather(ctx: Ctx, input: Float32Array, output: Float32Array, dtype: WireDtype): Promise<void> {
  const { worldSize: n, rank: r } = ctx.g;
  const m = input.length;
  // The group validated the lengths before starting.
  assert(output.length === n * m, () => `allGather: output has ${output.length} elements, expected worldSize ${n} × input ${m} = ${n * m}`);
  const own = output.subarray(r * m, (r + 1) * m);
  own.set(input);
  // Every rank holds the same bytes for every slot, its own included.
  if (n > 1) roundThrough(own, dtype);
  await ringAllGather(ctx, { segments: fixedSegments(m, n), dtype, target: (lo, hi) => output.subarray(lo, hi) });
}
