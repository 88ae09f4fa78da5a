import { describe, expect, it } from 'vitest';
import { BlockPoolError } from '../../../src/errors.ts';
import { BlockPool } from '../../../src/inference/kv/block_pool.ts';
import { hashBlockTokens, extendBlockHashes, ROOT_BLOCK_HASH } from '../../../src/inference/kv/hash.ts';

describe('BlockPool', () => {
  it('allocates every block once, then returns null (back-pressure)', () => {
    const pool = new BlockPool({ numBlocks: 4 });
    const a = pool.allocate(3)!;
    expect(new Set(a).size).toBe(3);
    expect(pool.allocate(2)).toBeNull();
    expect(pool.numFree).toBe(1); // the failed call took nothing
    const b = pool.allocate(1)!;
    expect([...a, ...b].sort()).toEqual([0, 1, 2, 3]);
    expect(pool.stats().usage).toBe(1);
    pool.free([...a, ...b]);
    expect(pool.numFree).toBe(4);
    pool.checkInvariants();
  });

  it('throws BlockPoolError on misuse and changes nothing', () => {
    const pool = new BlockPool({ numBlocks: 4 });
    const [x] = pool.allocate(1)!;
    expect(() => pool.free([x!, 7])).toThrow(/unknown block id 7 \(pool has ids 0\.\.3\)/);
    expect(pool.refCount(x!)).toBe(1);
    expect(() => pool.free([x!, x!])).toThrow(BlockPoolError);
    expect(pool.refCount(x!)).toBe(1);
    pool.free([x!]);
    expect(() => pool.free([x!])).toThrow(/refcount 0, cannot drop 1/);
    expect(() => pool.incRef([x!])).toThrow(/free and holds no cached prefix/);
    expect(() => pool.allocate(-1)).toThrow(BlockPoolError);
    expect(() => new BlockPool({ numBlocks: 0 })).toThrow(/numBlocks must be a positive integer, got 0/);
    pool.checkInvariants();
  });

  it('counts references: a shared block is free only after its last owner frees it', () => {
    const pool = new BlockPool({ numBlocks: 2 });
    const [x] = pool.allocate(1)!;
    pool.incRef([x!, x!]);
    expect(pool.refCount(x!)).toBe(3);
    pool.free([x!, x!]);
    expect(pool.numFree).toBe(1);
    pool.free([x!]);
    expect(pool.numFree).toBe(2);
  });

  it('keeps freed cached blocks findable, hands out plain blocks first, evicts cached ones LRU', () => {
    const pool = new BlockPool({ numBlocks: 4, blockSize: 2 });
    const ids = pool.allocate(3)!;
    const hashes = ids.map((_, i) => hashBlockTokens(ROOT_BLOCK_HASH, [i, i]));
    ids.forEach((id, i) => expect(pool.cacheBlock(id, hashes[i]!)).toBe(true));
    pool.free([ids[1]!]);
    pool.free([ids[0]!]);
    pool.free([ids[2]!]); // LRU order of the cached free blocks: ids[1], ids[0], ids[2]
    expect(pool.stats()).toMatchObject({ numFree: 4, numFreeCached: 3 });
    expect(pool.lookup(hashes[0]!)).toBe(ids[0]);

    const [plain] = pool.allocate(1)!; // the never-cached block goes first
    expect(ids).not.toContain(plain);
    expect(pool.stats().evictions).toBe(0);
    const [e1] = pool.allocate(1)!;
    expect(e1).toBe(ids[1]); // least recently freed cached block
    expect(pool.lookup(hashes[1]!)).toBeUndefined();
    expect(pool.lookup(hashes[0]!)).toBe(ids[0]);

    pool.incRef([ids[0]!]); // a prefix hit revives a free cached block
    expect(pool.stats()).toMatchObject({ numFree: 1, numFreeCached: 1, evictions: 1, prefixQueries: 3, prefixHits: 2 });
    pool.checkInvariants();
  });

  it('registers one block per hash; a second block with the same content stays uncached', () => {
    const pool = new BlockPool({ numBlocks: 2 });
    const [a, b] = pool.allocate(2)!;
    const h = hashBlockTokens(ROOT_BLOCK_HASH, [1, 2, 3]);
    expect(pool.cacheBlock(a!, h)).toBe(true);
    expect(pool.cacheBlock(b!, h)).toBe(false);
    expect(pool.hashOfBlock(b!)).toBeNull();
    expect(() => pool.cacheBlock(a!, 'other')).toThrow(/already cached under another hash/);
    const off = new BlockPool({ numBlocks: 1, enablePrefixCaching: false });
    expect(off.cacheBlock(off.allocate(1)![0]!, h)).toBe(false);
  });
});

describe('block hashes', () => {
  it('chain: the same block after a different prefix hashes differently', () => {
    const a = extendBlockHashes([], [1, 2, 3, 4, 5], 2);
    const b = extendBlockHashes([], [9, 2, 3, 4], 2);
    expect(a).toHaveLength(2); // the partial tail [5] is not hashed
    expect(a[1]).not.toBe(b[1]); // block [3, 4] after [1, 2] vs after [9, 2]
    expect(extendBlockHashes([], [1, 2, 3, 4], 2)).toEqual(a);
    expect(a[0]).toMatch(/^[0-9a-f]{32}$/);
    expect(() => hashBlockTokens('', [1, -2])).toThrow(/index 1 is -2/);
  });
});
