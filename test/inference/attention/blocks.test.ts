import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/data/rng.ts';
import { copyBlocks, createKvLayerCache, pagedAttention, swapIn, swapOut, writeKv } from '../../../src/inference/attention/index.ts';

const shape = { numBlocks: 6, blockSize: 4, numKvHeads: 2, headDim: 3 };
const per = shape.numKvHeads * shape.headDim;

function filled(seed: number) {
  const cache = createKvLayerCache(shape);
  const rng = new Rng(seed);
  const n = shape.numBlocks * shape.blockSize;
  const k = Float32Array.from({ length: n * per }, () => rng.next());
  const v = Float32Array.from({ length: n * per }, () => rng.next());
  writeKv(cache, Int32Array.from({ length: n }, (_, i) => i), k, v);
  return { cache, k, v };
}

describe('writeKv', () => {
  it('puts token t of slot s at [block, offset] = [s / B, s % B], skipping slot -1', () => {
    const cache = createKvLayerCache(shape);
    const k = Float32Array.from({ length: 3 * per }, (_, i) => i + 1);
    const v = Float32Array.from({ length: 3 * per }, (_, i) => -(i + 1));
    writeKv(cache, Int32Array.from([9, -1, 2]), k, v);
    // head-major blocks: K of (block, kv head h, offset) at ((block · Hkv + h) · B + offset) · Dh
    const { blockSize: B, numKvHeads: Hkv, headDim: Dh } = shape;
    const at = (block: number, h: number, offset: number) => ((block * Hkv + h) * B + offset) * Dh;
    for (let h = 0; h < Hkv; h++) {
      // token 0 → slot 9 = block 2, offset 1; token 2 → slot 2 = block 0, offset 2
      expect([...cache.kCache.subarray(at(2, h, 1), at(2, h, 1) + Dh)]).toEqual([...k.subarray(h * Dh, (h + 1) * Dh)]);
      expect([...cache.vCache.subarray(at(0, h, 2), at(0, h, 2) + Dh)]).toEqual([...v.subarray(2 * per + h * Dh, 2 * per + (h + 1) * Dh)]);
    }
    const written = cache.kCache.reduce((n, x) => n + (x !== 0 ? 1 : 0), 0);
    expect(written).toBe(2 * per);
  });

  it('rejects a slot outside the pool', () => {
    const cache = createKvLayerCache(shape);
    expect(() => writeKv(cache, Int32Array.from([24]), new Float32Array(per), new Float32Array(per))).toThrow('slotMapping[0] = 24 is outside the 24 slots (6 blocks × 4)');
  });
});

describe('copyBlocks and swap', () => {
  it('copy-on-write: the copy holds the same K and V, other blocks unchanged', () => {
    const { cache } = filled(1);
    const before = { k: cache.kCache.slice(), v: cache.vCache.slice() };
    copyBlocks(cache, [{ src: 1, dst: 4 }]);
    const stride = shape.blockSize * per;
    expect([...cache.kCache.subarray(4 * stride, 5 * stride)]).toEqual([...before.k.subarray(stride, 2 * stride)]);
    expect([...cache.vCache.subarray(4 * stride, 5 * stride)]).toEqual([...before.v.subarray(stride, 2 * stride)]);
    expect([...cache.kCache.subarray(0, 4 * stride)]).toEqual([...before.k.subarray(0, 4 * stride)]);
  });

  it('swap out to a host pool and back into other blocks: attention reads the same values', () => {
    const { cache } = filled(2);
    const table = Int32Array.from([3, 0, 5]);
    const q = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => Math.sin(i));
    const args = { q, vCache: cache.vCache, kCache: cache.kCache, seqs: [{ queryStart: 0, queryLen: 2, contextLen: 10 }], numHeads: 2, numKvHeads: 2, headDim: 3, blockSize: 4, scale: 0.7 };
    const expected = pagedAttention({ ...args, blockTables: [table] });

    const host = createKvLayerCache({ ...shape, numBlocks: 3 });
    swapOut(cache, host, [{ from: 3, to: 2 }, { from: 0, to: 0 }, { from: 5, to: 1 }]);
    cache.kCache.fill(0);
    cache.vCache.fill(0);
    swapIn(host, cache, [{ from: 2, to: 1 }, { from: 0, to: 4 }, { from: 1, to: 2 }]);
    const after = pagedAttention({ ...args, blockTables: [Int32Array.from([1, 4, 2])] });
    expect([...after]).toEqual([...expected]);
  });

  it('rejects block ids outside the pool and mismatched block shapes', () => {
    const { cache } = filled(3);
    expect(() => copyBlocks(cache, [{ src: 0, dst: 6 }])).toThrow('copyBlocks: dst block 6 is outside 0..5');
    const host = createKvLayerCache({ ...shape, numBlocks: 2, headDim: 4 });
    expect(() => swapOut(cache, host, [{ from: 0, to: 0 }])).toThrow('swapOut: block shapes differ');
  });
});
