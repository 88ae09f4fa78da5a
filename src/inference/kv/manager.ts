import { BlockPoolError, assert } from '../../errors.ts';
import type { BlockPool } from './block_pool.ts';
import { extendBlockHashes, type BlockHash } from './hash.ts';

/*
 * Block tables. A sequence's tokens live in fixed-size blocks that need not be contiguous;
 * its block table lists them in token order. Token at position p sits in
 * block table[floor(p / B)] at offset p % B (B = blockSize, here 4):
 *
 *   positions   0  1  2  3 | 4  5  6  7 | 8  9
 *   seq A table [    7     ,     2      ,  5     ]   block 5 is partial (2 of 4 slots used)
 *   seq B table [    7     ,     2      ,  9     ]   fork of A: shares 7 and 2 (refcount 2);
 *                                                     its copy of A's partial block is 9 (CoW)
 *
 * Flat slot index (what a paged-attention writer indexes K/V with) = block * B + offset.
 */

export type SeqId = string;

/** Copy the K/V of block `src` into block `dst` (same pool), before this step's forward. */
export interface BlockCopy {
  readonly src: number;
  readonly dst: number;
}

/** Swap: move block `from` of one pool to block `to` of the other (device→host or host→device). */
export interface BlockMapping {
  readonly from: number;
  readonly to: number;
}

/** Prefix-cache hit found at admission; pass it back to allocateSlots, which takes the references. */
export interface ComputedBlocks {
  readonly blocks: readonly number[];
  readonly numCachedTokens: number;
}

export interface SlotAllocation {
  /** Blocks appended to the table (CoW replacements not included). */
  readonly newBlocks: readonly number[];
  /** Copies the model runner must do, in order, before writing this step's K/V. */
  readonly copies: readonly BlockCopy[];
}

interface SeqRecord {
  table: number[];
  /** Tokens that have a slot (written or about to be written this step). */
  numTokens: number;
  /** Hash chain over the sequence's full blocks, grown lazily. */
  hashes: BlockHash[];
  /** Leading blocks already registered in the prefix cache. */
  numCached: number;
  onHost: boolean;
}

const NO_HIT: ComputedBlocks = { blocks: [], numCachedTokens: 0 };

/**
 * Per-sequence block tables over a device BlockPool (and an optional host pool for swapping).
 * Plain data only; the scheduler decides, this class keeps the books.
 */
export class KvCacheManager {
  readonly blockSize: number;
  private readonly seqs = new Map<SeqId, SeqRecord>();
  private cacheQueries = 0;
  private cacheHits = 0;

  constructor(
    readonly pool: BlockPool,
    readonly hostPool: BlockPool | null = null,
  ) {
    this.blockSize = pool.blockSize;
    if (hostPool && hostPool.blockSize !== pool.blockSize) {
      throw new BlockPoolError(`KvCacheManager: host blockSize ${hostPool.blockSize} differs from device blockSize ${pool.blockSize}`);
    }
  }

  has(seqId: SeqId): boolean {
    return this.seqs.has(seqId);
  }

  blockTable(seqId: SeqId): readonly number[] {
    return this.get('blockTable', seqId).table;
  }

  numSlots(seqId: SeqId): number {
    return this.get('numSlots', seqId).numTokens;
  }

  isSwappedOut(seqId: SeqId): boolean {
    return this.get('isSwappedOut', seqId).onHost;
  }

  /** Prefix-cache counters in tokens (vLLM's prefix_cache_queries / hits). */
  prefixCacheStats(): { queries: number; hits: number } {
    return { queries: this.cacheQueries, hits: this.cacheHits };
  }

  /**
   * The longest run of leading full blocks of `tokenIds` already in the cache. Takes no
   * reference (allocateSlots does, atomically with the rest). At least one token is always
   * left to compute: the step needs the last position's logits.
   */
  getComputedBlocks(seqId: SeqId, tokenIds: readonly number[]): ComputedBlocks {
    if (!this.pool.enablePrefixCaching) return NO_HIT;
    const rec = this.seqs.get(seqId);
    if (rec && rec.table.length > 0) throw new BlockPoolError(`getComputedBlocks: sequence ${seqId} already holds ${rec.table.length} blocks`);
    const r = rec ?? this.create(seqId);
    extendBlockHashes(r.hashes, tokenIds, this.blockSize);
    const maxBlocks = Math.floor((tokenIds.length - 1) / this.blockSize);
    const blocks: number[] = [];
    for (let b = 0; b < Math.min(maxBlocks, r.hashes.length); b++) {
      const id = this.pool.lookup(r.hashes[b]!);
      if (id === undefined) break;
      blocks.push(id);
    }
    this.cacheQueries += tokenIds.length;
    this.cacheHits += blocks.length * this.blockSize;
    return { blocks, numCachedTokens: blocks.length * this.blockSize };
  }

  /**
   * Give `seqId` slots for `numNewTokens` more tokens (positions numSlots .. numSlots+n-1),
   * first adopting `computed` (prefix hits) on an empty table. All or nothing: null when the
   * pool cannot cover it, with nothing changed.
   */
  allocateSlots(seqId: SeqId, numNewTokens: number, computed: ComputedBlocks = NO_HIT): SlotAllocation | null {
    if (!Number.isInteger(numNewTokens) || numNewTokens < 0) {
      throw new BlockPoolError(`allocateSlots: numNewTokens must be a non-negative integer, got ${numNewTokens} for sequence ${seqId}`);
    }
    const rec = this.seqs.get(seqId) ?? this.create(seqId);
    if (rec.onHost) throw new BlockPoolError(`allocateSlots: sequence ${seqId} is swapped out; swap it in first`);
    if (computed.blocks.length > 0 && rec.table.length > 0) {
      throw new BlockPoolError(`allocateSlots: prefix hits for ${seqId} given, but it already holds ${rec.table.length} blocks`);
    }
    const B = this.blockSize;
    const numTokensBefore = rec.table.length === 0 ? computed.numCachedTokens : rec.numTokens;
    const tableBefore = rec.table.length === 0 ? computed.blocks.length : rec.table.length;
    const numNewBlocks = Math.max(0, Math.ceil((numTokensBefore + numNewTokens) / B) - tableBefore);
    // Copy on write: the partial last block is shared (a fork) and we are about to write into it.
    const last = rec.table.at(-1);
    const cow = numNewTokens > 0 && numTokensBefore % B !== 0 && last !== undefined && this.pool.refCount(last) > 1;
    // Prefix hits sitting in the free list leave it when we take them.
    const hitsFromFree = computed.blocks.filter((id) => this.pool.refCount(id) === 0).length;
    if (numNewBlocks + (cow ? 1 : 0) + hitsFromFree > this.pool.numFree) return null;

    if (computed.blocks.length > 0) {
      this.pool.incRef(computed.blocks);
      rec.table.push(...computed.blocks);
      rec.numTokens = computed.numCachedTokens;
      rec.numCached = computed.blocks.length;
    }
    const copies: BlockCopy[] = [];
    if (cow) {
      const [dst] = this.pool.allocate(1)!;
      copies.push({ src: last!, dst: dst! });
      this.pool.free([last!]);
      rec.table[rec.table.length - 1] = dst!;
    }
    const newBlocks = this.pool.allocate(numNewBlocks);
    assert(newBlocks !== null, () => `allocateSlots(${seqId}): ${numNewBlocks} blocks were counted free but not available`);
    rec.table.push(...newBlocks);
    rec.numTokens += numNewTokens;
    return { newBlocks, copies };
  }

  /** Register the full blocks among the first `numComputedTokens` (their K/V is written) for reuse. */
  cacheFullBlocks(seqId: SeqId, tokenIds: readonly number[], numComputedTokens: number): void {
    const rec = this.get('cacheFullBlocks', seqId);
    if (!this.pool.enablePrefixCaching || rec.onHost) return;
    if (numComputedTokens > rec.numTokens || numComputedTokens > tokenIds.length) {
      throw new BlockPoolError(
        `cacheFullBlocks: ${seqId} has ${rec.numTokens} slots and ${tokenIds.length} tokens, cannot have ${numComputedTokens} computed`,
      );
    }
    const numFull = Math.floor(numComputedTokens / this.blockSize);
    if (numFull <= rec.numCached) return;
    extendBlockHashes(rec.hashes, tokenIds.slice(0, numFull * this.blockSize), this.blockSize);
    for (let b = rec.numCached; b < numFull; b++) this.pool.cacheBlock(rec.table[b]!, rec.hashes[b]!);
    rec.numCached = numFull;
  }

  /** `childId` shares every block of `parentId` (refcount + 1); the first write to a shared partial block copies it. */
  fork(parentId: SeqId, childId: SeqId): void {
    const parent = this.get('fork', parentId);
    if (this.seqs.has(childId)) throw new BlockPoolError(`fork: sequence ${childId} already exists`);
    if (parent.onHost) throw new BlockPoolError(`fork: parent ${parentId} is swapped out`);
    this.pool.incRef(parent.table);
    this.seqs.set(childId, { ...parent, table: [...parent.table], hashes: [...parent.hashes] });
  }

  /** Release every block of `seqId` (device or host) and forget it. Unknown ids are misuse. */
  free(seqId: SeqId): void {
    const rec = this.get('free', seqId);
    // Tail first: with LRU eviction the tail blocks (least likely shared) go before the prefix.
    (rec.onHost ? this.hostPool! : this.pool).free([...rec.table].reverse());
    this.seqs.delete(seqId);
  }

  /** Move `seqId`'s blocks to host memory. Null (nothing changed) when the host pool is too small. */
  swapOut(seqId: SeqId): BlockMapping[] | null {
    return this.move('swapOut', seqId, false);
  }

  /** Bring a swapped-out sequence back. Null (nothing changed) when the device pool is too small. */
  swapIn(seqId: SeqId): BlockMapping[] | null {
    return this.move('swapIn', seqId, true);
  }

  /** Where position `pos` of `seqId` lives. */
  slotFor(seqId: SeqId, pos: number): { block: number; offset: number } {
    const rec = this.get('slotFor', seqId);
    if (!Number.isInteger(pos) || pos < 0 || pos >= rec.numTokens) {
      throw new BlockPoolError(`slotFor: position ${pos} of ${seqId} has no slot (it has ${rec.numTokens})`);
    }
    return { block: rec.table[Math.floor(pos / this.blockSize)]!, offset: pos % this.blockSize };
  }

  /** Flat slot indices (block * blockSize + offset) for positions start .. start+count-1.  [count] */
  slotMapping(seqId: SeqId, start: number, count: number): Int32Array {
    const out = new Int32Array(count);
    for (let i = 0; i < count; i++) {
      const { block, offset } = this.slotFor(seqId, start + i);
      out[i] = block * this.blockSize + offset;
    }
    return out;
  }

  /** Device token slots held vs filled, each shared block counted once (for KvWaste). */
  slotUsage(): { allocatedSlots: number; usedSlots: number } {
    const fill = new Map<number, number>();
    for (const rec of this.seqs.values()) {
      if (rec.onHost) continue;
      rec.table.forEach((id, b) => {
        const used = Math.min(this.blockSize, rec.numTokens - b * this.blockSize);
        fill.set(id, Math.max(fill.get(id) ?? 0, used));
      });
    }
    let usedSlots = 0;
    for (const used of fill.values()) usedSlots += used;
    return { allocatedSlots: fill.size * this.blockSize, usedSlots };
  }

  /** Each block's refcount equals the number of block-table entries naming it, in both pools. */
  checkInvariants(): void {
    for (const [onHost, pool] of [[false, this.pool], [true, this.hostPool]] as const) {
      if (!pool) continue;
      pool.checkInvariants();
      const refs = new Map<number, number>();
      for (const [seqId, rec] of this.seqs) {
        if (rec.onHost !== onHost) continue;
        assert(rec.table.length === Math.ceil(rec.numTokens / this.blockSize), () => `${seqId}: ${rec.table.length} blocks for ${rec.numTokens} slots`);
        for (const id of rec.table) refs.set(id, (refs.get(id) ?? 0) + 1);
      }
      for (let id = 0; id < pool.numBlocks; id++) {
        const rc = pool.refCount(id);
        assert(rc === (refs.get(id) ?? 0), () => `${onHost ? 'host' : 'device'} block ${id}: refcount ${rc}, ${refs.get(id) ?? 0} table references`);
      }
    }
  }

  private move(fn: string, seqId: SeqId, toDevice: boolean): BlockMapping[] | null {
    const rec = this.get(fn, seqId);
    if (!this.hostPool) throw new BlockPoolError(`${fn}: no host pool configured (swap space is 0)`);
    if (rec.onHost !== toDevice) throw new BlockPoolError(`${fn}: sequence ${seqId} is already on the ${toDevice ? 'device' : 'host'}`);
    const [src, dst] = toDevice ? [this.hostPool, this.pool] : [this.pool, this.hostPool];
    const to = dst.allocate(rec.table.length);
    if (to === null) return null;
    const mappings = rec.table.map((from, i) => ({ from, to: to[i]! }));
    src.free(rec.table);
    rec.table = to;
    rec.onHost = !toDevice;
    // Fresh device blocks carry no cache entries; re-register them on the next cacheFullBlocks.
    rec.numCached = 0;
    return mappings;
  }

  private create(seqId: SeqId): SeqRecord {
    const rec: SeqRecord = { table: [], numTokens: 0, hashes: [], numCached: 0, onHost: false };
    this.seqs.set(seqId, rec);
    return rec;
  }

  private get(fn: string, seqId: SeqId): SeqRecord {
    const rec = this.seqs.get(seqId);
    if (!rec) throw new BlockPoolError(`${fn}: unknown sequence ${seqId}`);
    return rec;
  }
}
