/**
 * Reduce-scatter: input [n*m] on every rank, output [m] on rank r = reduction over ranks of
 * input[r*m .. (r+1)*m). The input is left untouched: partial sums go to temporaries, the
 * last step straight into the output.
 */
import { assert } from '../../../errors.ts';
import type { Ctx } from '../context.ts';
import type { ReduceOp, WireDtype } from '../types.ts';
import { fixedSegments } from './chunks.ts';
import { ringReduceScatter } from './ring_reduce_scatter.ts';

export async function reduceScatter(
  ctx: Ctx, input: Float32Array, output: Float32Array, op: ReduceOp, dtype: WireDtype,
): Promise<void> {
  const { worldSize: n, rank: r } = ctx.g;
  const m = output.length;
  // The group validated the lengths before starting.
  assert(input.length === n * m, () => `reduceScatter: input has ${input.length} elements, expected worldSize ${n} × output ${m} = ${n * m}`);
  const base = r * m;
  output.set(input.subarray(base, base + m));
  await ringReduceScatter(ctx, {
    segments: fixedSegments(m, n),
    op,
    dtype,
    local: (lo, hi) => input.subarray(lo, hi),
    accumulator: (lo, hi, final) => (final ? output.subarray(lo - base, hi - base) : input.slice(lo, hi)),
  });
  if (op === 'avg') for (let i = 0; i < m; i++) output[i]! /= n;
}
