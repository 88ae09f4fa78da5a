/**
 * fp16 on the wire (issue 8): gradients divided by the global token count sit near 1e-6…1e-8,
 * at or below float16's subnormal range (smallest normal 6.1e-5, smallest subnormal 6e-8).
 * Each bucket is scaled by a power of two agreed from its max before narrowing; the sums must
 * keep fp16's relative precision instead of flushing to zero.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessGroup } from '../../src/runtime/comm/index.ts';
import { f16WireScale, F16_MAX } from '../../src/runtime/comm/half.ts';
import { sumAllReduce, sumReduceScatter } from '../../src/zero/wire.ts';
import { destroyAll, makeWorld, reference } from '../runtime/comm/helpers.ts';
import { lossCurve, relDiff, zeroConfig } from './helpers.ts';

/** n values with magnitudes spread log-uniformly over [1e-8, 1e-6], random signs. */
function tinyGrads(n: number, seed: number): Float32Array {
  let s = seed;
  const r = (): number => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
  return Float32Array.from({ length: n }, () => (r() < 0.5 ? -1 : 1) * 10 ** (-8 + 2 * r()));
}

/**
 * Largest |got − want| relative to the terms' magnitude Σ|x_r| (cancellation makes a sum's own
 * relative error unbounded when each term is rounded): fp16 rounds each term and the sum, so
 * this stays under a few 2^-11 when nothing underflows.
 */
function maxRel(got: Float32Array, want: Float64Array, inputs: Float32Array[], offset = 0): number {
  let m = 0;
  for (let i = 0; i < got.length; i++) {
    const mag = inputs.reduce((a, x) => a + Math.abs(x[offset + i]!), 0);
    m = Math.max(m, Math.abs(got[i]! - want[offset + i]!) / mag);
  }
  return m;
}

describe('fp16 gradient buckets on the wire', () => {
  let pgs: ProcessGroup[] = [];
  beforeAll(async () => {
    pgs = await makeWorld(2);
  });
  afterAll(async () => {
    await destroyAll(pgs);
  });

  it('the scale lifts the bucket max near 2^15/terms and stays a power of two', () => {
    const s = f16WireScale(1e-6, 2);
    expect(Math.log2(s) % 1).toBe(0);
    expect(1e-6 * 2 * s).toBeLessThanOrEqual(2 ** 15);
    expect(1e-6 * 2 * s).toBeGreaterThan(2 ** 14);
    expect(1e-6 * 2 * s).toBeLessThan(F16_MAX);
    expect(f16WireScale(0, 2)).toBe(1);
    expect(f16WireScale(Infinity, 2)).toBe(1);
  });

  it('all-reduce of 1e-8…1e-6 gradients: fp16 relative error, nothing flushed to zero (unscaled fp16 loses them)', async () => {
    const inputs = [tinyGrads(4096, 1), tinyGrads(4096, 2)];
    const want = reference(inputs, 'sum');
    const scaled = inputs.map((x) => x.slice());
    await Promise.all(pgs.map((pg, r) => sumAllReduce(pg, scaled[r]!, 'fp16')));
    const naive = inputs.map((x) => x.slice());
    await Promise.all(pgs.map((pg, r) => pg.allReduce(naive[r]!, { op: 'sum', wireDtype: 'fp16' })));
    expect(maxRel(scaled[0]!, want, inputs)).toBeLessThan(2 * 2 ** -11);
    expect(scaled[0]!.every((x, i) => x !== 0 || want[i] === 0)).toBe(true);
    // Unscaled, the smallest gradients flush to zero or keep a bit or two of a subnormal.
    expect(maxRel(naive[0]!, want, inputs)).toBeGreaterThan(0.1);
    expect(scaled[1]).toEqual(scaled[0]);
  });

  it('reduce-scatter of 1e-8…1e-6 gradients keeps them too', async () => {
    const inputs = [tinyGrads(2048, 3), tinyGrads(2048, 4)];
    const want = reference(inputs, 'sum');
    const outs = [new Float32Array(1024), new Float32Array(1024)];
    await Promise.all(pgs.map((pg, r) => sumReduceScatter(pg, inputs[r]!.slice(), outs[r]!, 'fp16')));
    expect(maxRel(outs[0]!, want, inputs, 0)).toBeLessThan(2 * 2 ** -11);
    expect(maxRel(outs[1]!, want, inputs, 1024)).toBeLessThan(2 * 2 ** -11);
  });

  it('ZeRO-2 with fp16 on the wire trains to the float32 curve within fp16 precision', async () => {
    const f32 = await lossCurve(2, zeroConfig(2, 1, { stage: 2, reduce_bucket_size: 500 }), 10);
    const f16 = await lossCurve(2, zeroConfig(2, 1, { stage: 2, reduce_bucket_size: 500 }, { communication_data_type: 'fp16' }), 10);
    expect(relDiff(f16, f32)).toBeLessThan(2e-3);
  }, 60_000);
});
