/**
 * The compressed all-reduce at 2 and 3 ranks over TCP, against the float64 mean: one call equals a
 * float64 run of the algorithm; over many calls the two levels of error feedback telescope, so
 * the cumulative result is the cumulative mean minus the errors still held (an exact identity),
 * and the per-call gap shrinks as 1/T. The wire bytes are counted against the float32 all-reduce.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { compressedAllReduce, newFeedbackErrors, packedBytes, type FeedbackErrors } from '../../../src/compress/onebit/index.ts';
import type { ProcessGroup } from '../../../src/runtime/comm/index.ts';
import { destroyAll, makeWorld } from '../../runtime/comm/helpers.ts';
import { seededFloats } from '../../helpers/random.ts';

const B = 64;

/** float64 1-bit compression of c (in blocks of B): returns q, and c − q in err. */
function compress64(c: number[], err: number[]): number[] {
  const q: number[] = [];
  for (let lo = 0; lo < c.length; lo += B) {
    const blk = c.slice(lo, lo + B);
    const s = Math.sqrt(blk.reduce((a, v) => a + v * v, 0) / B);
    for (const v of blk) q.push(v >= 0 ? s : -s);
  }
  c.forEach((v, i) => (err[i] = v - q[i]!));
  return q;
}

/** The algorithm in float64 for n ranks' inputs [n·S] (errors start at 0). */
function reference(inputs: Float32Array[], S: number): number[] {
  const n = inputs.length;
  const workerQ = inputs.map((x) => compress64(Array.from(x), new Array<number>(x.length)));
  const out: number[] = [];
  for (let j = 0; j < n; j++) {
    const mean = Array.from({ length: S }, (_, i) => workerQ.reduce((a, q) => a + q[j * S + i]! / n, 0));
    out.push(...compress64(mean, new Array<number>(S)));
  }
  return out;
}

for (const n of [2, 3]) {
  describe(`compressed all-reduce, ${n} ranks`, () => {
    let groups: ProcessGroup[] = [];
    beforeAll(async () => {
      groups = await makeWorld(n);
    });
    afterAll(async () => destroyAll(groups));

    const run = (bufs: Float32Array[], errs: FeedbackErrors[], blockElems = B) =>
      Promise.all(groups.map((g, r) => compressedAllReduce(g, bufs[r]!, errs[r]!, blockElems)));

    it('one call: every rank gets the same bytes, equal to a float64 run of the algorithm', async () => {
      const S = 2 * B;
      const inputs = groups.map((_, r) => seededFloats(n * S, 10 + r));
      const bufs = inputs.map((x) => Float32Array.from(x));
      await run(bufs, groups.map(() => newFeedbackErrors(n, S)));
      const want = reference(inputs, S);
      for (const b of bufs) expect(Buffer.from(b.buffer).equals(Buffer.from(bufs[0]!.buffer))).toBe(true);
      for (let i = 0; i < n * S; i++) expect(Math.abs(bufs[0]![i]! - want[i]!)).toBeLessThan(1e-6);
    });

    it('many calls: Σ results = Σ float64 means − (mean worker error + server error), and the gap falls as 1/T', async () => {
      const S = 2 * B;
      const errs = groups.map(() => newFeedbackErrors(n, S));
      const sumOut = new Float64Array(n * S);
      const sumMean = new Float64Array(n * S);
      const T = 60;
      let gapAt5 = 0;
      for (let t = 0; t < T; t++) {
        // A slowly drifting signal plus per-rank noise, as momenta are.
        const inputs = groups.map((_, r) => {
          const base = seededFloats(n * S, 1);
          const noise = seededFloats(n * S, 100 * t + r, 0.5);
          return base.map((v, i) => v * (1 + 0.01 * t) + noise[i]!);
        });
        for (let i = 0; i < n * S; i++) sumMean[i]! += inputs.reduce((a, x) => a + x[i]!, 0) / n;
        const bufs = inputs.map((x) => Float32Array.from(x));
        await run(bufs, errs);
        for (let i = 0; i < n * S; i++) sumOut[i]! += bufs[0]![i]!;
        if (t === 4) gapAt5 = maxGap(sumOut, sumMean, 5);
      }
      // The identity: element i of chunk j is served by rank j.
      let held = 0;
      for (let i = 0; i < n * S; i++) {
        const j = Math.floor(i / S);
        const pending = errs.reduce((a, e) => a + e.worker[i]!, 0) / n + errs[j]!.server[i - j * S]!;
        held = Math.max(held, Math.abs(pending));
        expect(Math.abs(sumOut[i]! + pending - sumMean[i]!)).toBeLessThan(1e-4);
      }
      const gap = maxGap(sumOut, sumMean, T);
      expect(gap).toBeLessThanOrEqual(held / T + 1e-5);
      // The held errors stay bounded (here a few times the signal), so the gap keeps falling.
      expect(gap).toBeLessThan(gapAt5 / 3);
    });

    it(`sends ≥ 25× fewer bytes than the float32 ring all-reduce of the same buffer`, async () => {
      const S = 8192;
      const bufs = groups.map((_, r) => seededFloats(n * S, 50 + r));
      const before = groups.map((g) => g.stats().total.sentBytes);
      await run(bufs, groups.map(() => newFeedbackErrors(n, S)), 512);
      const compressed = groups.map((g, r) => g.stats().total.sentBytes - before[r]!);
      const mid = groups.map((g) => g.stats().total.sentBytes);
      await Promise.all(groups.map((g, r) => g.allReduce(bufs[r]!)));
      const fp32 = groups.map((g, r) => g.stats().total.sentBytes - mid[r]!);
      for (let r = 0; r < n; r++) {
        // Payload: (n−1) packed chunks to the others, then (n−1) served chunks around the all-gather ring.
        expect(compressed[r]!).toBeGreaterThanOrEqual(2 * (n - 1) * packedBytes(S, 512));
        expect(fp32[r]! / compressed[r]!).toBeGreaterThanOrEqual(25);
      }
    });
  });
}

function maxGap(sumOut: Float64Array, sumMean: Float64Array, T: number): number {
  let m = 0;
  for (let i = 0; i < sumOut.length; i++) m = Math.max(m, Math.abs(sumOut[i]! - sumMean[i]!) / T);
  return m;
}
