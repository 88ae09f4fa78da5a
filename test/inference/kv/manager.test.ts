import { describe, expect, it } from 'vitest';
import { BlockPoolError } from '../../../src/errors.ts';
import { BlockPool } from '../../../src/inference/kv/block_pool.ts';
import { KvCacheManager } from '../../../src/inference/kv/manager.ts';
import { KvWaste } from '../../../src/inference/kv/waste.ts';

const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);

/** Admit `tokens` for `seqId` as the scheduler does: prefix lookup, allocate, mark computed. */
function admit(m: KvCacheManager, seqId: string, tokens: number[]) {
  const hit = m.getComputedBlocks(seqId, tokens);
  const alloc = m.allocateSlots(seqId, tokens.length - hit.numCachedTokens, hit);
  if (alloc) m.cacheFullBlocks(seqId, tokens, tokens.length);
  return { hit, alloc };
}

describe('KvCacheManager', () => {
  it('reuses the 2 full blocks of a shared 40-token prefix', () => {
    const m = new KvCacheManager(new BlockPool({ numBlocks: 10, blockSize: 16 }));
    const prefix = range(100, 40);
    const a = admit(m, 'a', [...prefix, 1, 2, 3]);
    expect(a.hit.numCachedTokens).toBe(0);
    expect(m.blockTable('a')).toHaveLength(3);
    const b = admit(m, 'b', [...prefix, 7, 8]);
    expect(b.hit.numCachedTokens).toBe(32); // blocks 0-1 are full; block 2 (tokens 32..41) differs
    expect(m.blockTable('b').slice(0, 2)).toEqual(m.blockTable('a').slice(0, 2));
    expect(m.blockTable('b')[2]).not.toBe(m.blockTable('a')[2]);
    expect(m.blockTable('a').map((id) => m.pool.refCount(id))).toEqual([2, 2, 1]);
    expect(m.pool.numFree).toBe(10 - 4);
    expect(m.prefixCacheStats()).toEqual({ queries: 43 + 42, hits: 32 });

    // After both finish, the prefix stays cached in free blocks and a third request finds it.
    m.free('a');
    m.free('b');
    expect(m.pool.numFree).toBe(10);
    const c = admit(m, 'c', [...prefix, 9]);
    expect(c.hit.numCachedTokens).toBe(32);
    m.checkInvariants();
  });

  it('always leaves the last token to compute, even when the whole prompt is cached', () => {
    const m = new KvCacheManager(new BlockPool({ numBlocks: 8, blockSize: 16 }));
    const tokens = range(0, 32);
    admit(m, 'a', tokens);
    expect(m.getComputedBlocks('b', tokens).numCachedTokens).toBe(16);
  });

  it('fork shares every block; the first write to the shared partial block copies it', () => {
    const m = new KvCacheManager(new BlockPool({ numBlocks: 10, blockSize: 16 }));
    admit(m, 'p', range(0, 40)); // 2 full blocks + 8 tokens in the third
    m.fork('p', 'c1');
    m.fork('p', 'c2');
    const [b0, b1, partial] = m.blockTable('p');
    expect([b0, b1, partial].map((id) => m.pool.refCount(id!))).toEqual([3, 3, 3]);

    const copies = ['p', 'c1', 'c2'].map((id) => m.allocateSlots(id, 1)!.copies);
    // The first two writers get a private copy; the last one is then the sole owner and writes in place.
    expect(copies[0]).toEqual([{ src: partial, dst: m.blockTable('p')[2] }]);
    expect(copies[1]).toEqual([{ src: partial, dst: m.blockTable('c1')[2] }]);
    expect(copies[2]).toEqual([]);
    expect(m.blockTable('c2')[2]).toBe(partial);
    expect(new Set(['p', 'c1', 'c2'].map((id) => m.blockTable(id)[2])).size).toBe(3);
    expect(m.pool.refCount(b0!)).toBe(3);
    expect(m.pool.numFree).toBe(10 - 5);
    m.checkInvariants();
    for (const id of ['p', 'c1', 'c2']) m.free(id);
    expect(m.pool.numFree).toBe(10);
  });

  it('allocates all or nothing', () => {
    const m = new KvCacheManager(new BlockPool({ numBlocks: 3, blockSize: 4 }));
    expect(m.allocateSlots('a', 9)!.newBlocks).toHaveLength(3);
    m.free('a');
    m.allocateSlots('a', 5);
    expect(m.allocateSlots('b', 5)).toBeNull();
    expect(m.numSlots('b')).toBe(0);
    expect(m.pool.numFree).toBe(1);
    expect(m.allocateSlots('a', 3)!.newBlocks).toHaveLength(0); // 8 slots fit the 2 blocks held
    expect(() => m.allocateSlots('a', 1.5)).toThrow(/numNewTokens must be a non-negative integer, got 1.5 for sequence a/);
    expect(() => m.free('zzz')).toThrow(BlockPoolError);
    m.checkInvariants();
  });

  it('maps positions to (block, offset) and flat slots', () => {
    const m = new KvCacheManager(new BlockPool({ numBlocks: 6, blockSize: 4 }));
    m.allocateSlots('x', 1); // a blocker so x and y interleave
    m.allocateSlots('y', 6);
    m.allocateSlots('x', 4);
    const t = m.blockTable('y');
    expect(m.slotFor('y', 5)).toEqual({ block: t[1], offset: 1 });
    expect([...m.slotMapping('y', 2, 4)]).toEqual([t[0]! * 4 + 2, t[0]! * 4 + 3, t[1]! * 4, t[1]! * 4 + 1]);
    expect(() => m.slotFor('y', 6)).toThrow(/position 6 of y has no slot \(it has 6\)/);
  });

  it('swaps a sequence to host blocks and back, null when the other side is full', () => {
    const m = new KvCacheManager(new BlockPool({ numBlocks: 4, blockSize: 4 }), new BlockPool({ numBlocks: 2, blockSize: 4 }));
    m.allocateSlots('a', 6);
    const device = [...m.blockTable('a')];
    const out = m.swapOut('a')!;
    expect(out.map((x) => x.from)).toEqual(device);
    expect(m.pool.numFree).toBe(4);
    expect(m.hostPool!.numFree).toBe(0);
    m.allocateSlots('b', 3);
    expect(m.swapOut('b')).toBeNull(); // host full
    m.allocateSlots('b', 10); // b now holds all 4 device blocks
    expect(m.swapIn('a')).toBeNull();
    m.free('b');
    const back = m.swapIn('a')!;
    expect(back.map((x) => x.from)).toEqual(out.map((x) => x.to));
    expect(m.numSlots('a')).toBe(6);
    expect(m.hostPool!.numFree).toBe(2);
    m.checkInvariants();
  });

  it('KvWaste counts the unused tail slots of held blocks', () => {
    const m = new KvCacheManager(new BlockPool({ numBlocks: 8, blockSize: 4 }));
    const w = new KvWaste();
    m.allocateSlots('a', 5); // 2 blocks, 3 slots empty
    m.allocateSlots('b', 8); // 2 blocks, full
    expect(w.observe(m)).toEqual({ allocatedSlots: 16, usedSlots: 13, waste: 3 / 16 });
    m.allocateSlots('a', 3);
    expect(w.observe(m).waste).toBe(0);
    expect(w.peak.waste).toBe(3 / 16);
    expect(w.mean).toBeCloseTo(3 / 32, 12);
  });
});
