/**
 * The contract: every collective equals a sequential float64 reference at world sizes 1-4 and
 * lengths that do not divide evenly (0 and 1 included). chunkBytes is small so that even these
 * short buffers stream in several chunks per segment.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { ProcessGroup, ReduceOp } from '../../../src/runtime/comm/index.ts';
import { destroyAll, makeWorld, maxAbsError, randomArray, reference, sameBytes } from './helpers.ts';

const LENGTHS = [0, 1, 5, 37, 1001];
const CHUNK_BYTES = 64;

/** Worst case of float32 summation of W values in [-1, 1], any order. */
const tol = (w: number): number => 2 * w * w * 2 ** -24;

describe.each([1, 2, 3, 4])('world size %i', (W) => {
  let pgs: ProcessGroup[] = [];
  beforeAll(async () => {
    pgs = await makeWorld(W, { chunkBytes: CHUNK_BYTES });
  });
  afterAll(() => destroyAll(pgs));

  it.each(['sum', 'avg', 'max', 'min'] as ReduceOp[])('allReduce %s matches the reference, bit-identical on every rank', async (op) => {
    for (const len of LENGTHS) {
      const inputs = pgs.map((_, r) => randomArray(len, 1000 * W + 10 * r + len));
      const bufs = inputs.map((x) => x.slice());
      await Promise.all(pgs.map((pg, r) => pg.allReduce(bufs[r]!, { op })));
      const want = reference(inputs, op);
      for (const b of bufs) {
        expect(maxAbsError(b, want)).toBeLessThanOrEqual(op === 'max' || op === 'min' ? 0 : tol(W));
        expect(sameBytes(b, bufs[0]!)).toBe(true);
      }
    }
  });

  it('allReduce works on views at an offset in a larger buffer', async () => {
    const len = 301;
    const flats = pgs.map((_, r) => randomArray(len + 20, 7 + r));
    const inputs = flats.map((f) => f.slice(13, 13 + len));
    await Promise.all(pgs.map((pg, r) => pg.allReduce(flats[r]!.subarray(13, 13 + len))));
    const want = reference(inputs, 'sum');
    for (const [r, f] of flats.entries()) {
      expect(maxAbsError(f.subarray(13, 13 + len), want)).toBeLessThanOrEqual(tol(W));
      // Elements outside the view are untouched.
      expect(sameBytes(f.subarray(0, 13), randomArray(len + 20, 7 + r).subarray(0, 13))).toBe(true);
    }
  });

  it('reduceScatter gives each rank its reduced slice and leaves the input alone', async () => {
    for (const m of [0, 1, 7, 250]) {
      const inputs = pgs.map((_, r) => randomArray(W * m, 31 * r + m));
      const copies = inputs.map((x) => x.slice());
      const outs = pgs.map(() => new Float32Array(m));
      await Promise.all(pgs.map((pg, r) => pg.reduceScatter(copies[r]!, outs[r]!, { op: 'sum' })));
      const want = reference(inputs, 'sum');
      for (let r = 0; r < W; r++) {
        expect(maxAbsError(outs[r]!, want.subarray(r * m, (r + 1) * m))).toBeLessThanOrEqual(tol(W));
        expect(sameBytes(copies[r]!, inputs[r]!)).toBe(true);
      }
    }
  });

  it('allGather places rank i at [i*m, (i+1)*m) exactly', async () => {
    for (const m of [0, 1, 9, 333]) {
      const inputs = pgs.map((_, r) => randomArray(m, 77 + r + m));
      const outs = pgs.map(() => new Float32Array(W * m));
      await Promise.all(pgs.map((pg, r) => pg.allGather(inputs[r]!, outs[r]!)));
      for (const out of outs) for (let r = 0; r < W; r++) expect(sameBytes(out.subarray(r * m, (r + 1) * m), inputs[r]!)).toBe(true);
    }
  });

  it('broadcast copies the root buffer to every rank, for every root', async () => {
    for (let root = 0; root < W; root++) {
      for (const len of [0, 1, 101]) {
        const bufs = pgs.map((_, r) => randomArray(len, 500 + r));
        const want = bufs[root]!.slice();
        await Promise.all(pgs.map((pg, r) => pg.broadcast(bufs[r]!, root)));
        for (const b of bufs) expect(sameBytes(b, want)).toBe(true);
      }
    }
  });

  it('barrier releases nobody before the last rank arrives', async () => {
    const late = 150;
    const t0 = Date.now();
    const left = await Promise.all(
      pgs.map(async (pg, r) => {
        if (r === W - 1) await new Promise((res) => setTimeout(res, late));
        await pg.barrier();
        return Date.now() - t0;
      }),
    );
    for (const t of left) expect(t).toBeGreaterThanOrEqual(late - 5);
  });

  it.runIf(W > 1)('send/recv around the ring, both directions at once', async () => {
    const msgs = pgs.map((_, r) => randomArray(97, 900 + r));
    const got = pgs.map(() => new Float32Array(97));
    await Promise.all(
      pgs.flatMap((pg, r) => [pg.send(msgs[r]!, (r + 1) % W), pg.recv(got[r]!, (r - 1 + W) % W)]),
    );
    for (let r = 0; r < W; r++) expect(sameBytes(got[r]!, msgs[(r - 1 + W) % W]!)).toBe(true);
  });
});

describe('subgroups and stats', () => {
  it('subgroups run beside the world group on shared connections', async () => {
    const pgs = await makeWorld(4, { chunkBytes: CHUNK_BYTES });
    try {
      const evens = [0, 2].map((r) => pgs[r]!.newGroup([0, 2]));
      const odds = [1, 3].map((r) => pgs[r]!.newGroup([1, 3]));
      expect(evens[1]!.rank).toBe(1);
      expect(evens[0]!.groupId).toBe(evens[1]!.groupId);
      expect(evens[0]!.groupId).not.toBe(odds[0]!.groupId);
      const sub = [0, 1, 2, 3].map((r) => randomArray(200, 40 + r));
      const whole = [0, 1, 2, 3].map((r) => randomArray(150, 60 + r));
      const subBufs = sub.map((x) => x.slice());
      const wholeBufs = whole.map((x) => x.slice());
      await Promise.all([
        evens[0]!.allReduce(subBufs[0]!), evens[1]!.allReduce(subBufs[2]!),
        odds[0]!.allReduce(subBufs[1]!), odds[1]!.allReduce(subBufs[3]!),
        ...pgs.map((pg, r) => pg.allReduce(wholeBufs[r]!)),
      ]);
      const wantEven = reference([sub[0]!, sub[2]!], 'sum');
      const wantOdd = reference([sub[1]!, sub[3]!], 'sum');
      expect(maxAbsError(subBufs[0]!, wantEven)).toBeLessThanOrEqual(tol(2));
      expect(maxAbsError(subBufs[3]!, wantOdd)).toBeLessThanOrEqual(tol(2));
      expect(maxAbsError(wholeBufs[1]!, reference(whole, 'sum'))).toBeLessThanOrEqual(tol(4));
      expect(evens[0]!.stats().byKind.allReduce.calls).toBe(1);
      expect(pgs[0]!.stats().byKind.allReduce.calls).toBe(1);
    } finally {
      await destroyAll(pgs);
    }
  });

  it('stats count 2(n-1) segment frames per rank for a ring all-reduce', async () => {
    const W = 4;
    const seg = 1000;
    const pgs = await makeWorld(W);
    try {
      await Promise.all(pgs.map((pg, r) => pg.allReduce(randomArray(W * seg, r))));
      const frame = 32 + seg * 4;
      for (const pg of pgs) {
        const s = pg.stats();
        expect(s.byKind.allReduce).toEqual({ calls: 1, sentBytes: 2 * (W - 1) * frame, receivedBytes: 2 * (W - 1) * frame });
        expect(s.total.sentBytes).toBe(2 * (W - 1) * frame);
      }
      await Promise.all(pgs.map((pg, r) => pg.allReduce(randomArray(W * seg, r), { wireDtype: 'fp16' })));
      expect(pgs[0]!.stats().byKind.allReduce.sentBytes).toBe(2 * (W - 1) * (frame + 32 + seg * 2));
    } finally {
      await destroyAll(pgs);
    }
  });
});
