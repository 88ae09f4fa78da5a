import { BlockPoolError, assert } from '../../errors.ts';
import type { BlockHash } from './hash.ts';

export interface BlockPoolOptions {
  readonly numBlocks: number;
  /** Tokens per block (default 16). */
  readonly blockSize?: number;
  /** Keep full blocks findable by hash after they are freed (default true). */
  readonly enablePrefixCaching?: boolean;
}

export interface BlockPoolStats {
  readonly numBlocks: number;
  /** Blocks with refcount 0, cached ones included (they are evicted on demand). */
  readonly numFree: number;
  /** Of numFree, those still holding a prefix-cache entry. */
  readonly numFreeCached: number;
  /** Fraction of blocks held by sequences: 1 - numFree / numBlocks. */
  readonly usage: number;
  /** Blocks looked up by hash, and how many were found. */
  readonly prefixQueries: number;
  readonly prefixHits: number;
  readonly evictions: number;
}

/**
 * A fixed set of `numBlocks` KV blocks, ids 0..numBlocks-1, allocated once. Holds no tensors:
 * the model runner owns the K/V memory and indexes it by these ids.
 *
 * Every block is in exactly one state:
 *   in use       refcount > 0 (shared by forks or by prefix-cache hits when > 1)
 *   free, plain  refcount 0, no hash            → `freePlain` (handed out first)
 *   free, cached refcount 0, registered hash    → `freeCached`, LRU order (oldest evicted first)
 * A cached block may also be in use; its hash entry lives until it is evicted.
 */
export class BlockPool {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly enablePrefixCaching: boolean;
  private readonly refCounts: Int32Array;
  private readonly hashOf: (BlockHash | null)[];
  private readonly byHash = new Map<BlockHash, number>();
  // Sets keep insertion order: the first element is the least recently freed.
  private readonly freePlain = new Set<number>();
  private readonly freeCached = new Set<number>();
  private queries = 0;
  private hits = 0;
  private evictions = 0;

  constructor(opts: BlockPoolOptions) {
    const blockSize = opts.blockSize ?? 16;
    if (!Number.isInteger(opts.numBlocks) || opts.numBlocks < 1) {
      throw new BlockPoolError(`BlockPool: numBlocks must be a positive integer, got ${opts.numBlocks}`);
    }
    if (!Number.isInteger(blockSize) || blockSize < 1) {
      throw new BlockPoolError(`BlockPool: blockSize must be a positive integer, got ${blockSize}`);
    }
    this.numBlocks = opts.numBlocks;
    this.blockSize = blockSize;
    this.enablePrefixCaching = opts.enablePrefixCaching ?? true;
    this.refCounts = new Int32Array(this.numBlocks);
    this.hashOf = new Array<BlockHash | null>(this.numBlocks).fill(null);
    for (let id = 0; id < this.numBlocks; id++) this.freePlain.add(id);
  }

  get numFree(): number {
    return this.freePlain.size + this.freeCached.size;
  }

  /** `n` fresh blocks with refcount 1, or null when fewer than `n` are free (back-pressure). */
  allocate(n: number): number[] | null {
    if (!Number.isInteger(n) || n < 0) throw new BlockPoolError(`BlockPool.allocate: n must be a non-negative integer, got ${n}`);
    if (n > this.numFree) return null;
    const out: number[] = [];
    for (let i = 0; i < n; i++) out.push(this.takeFreeBlock());
    return out;
  }

  /** Drop one reference from each id (an id may repeat). Validated as a whole before any change. */
  free(ids: readonly number[]): void {
    const drops = this.countIds('free', ids);
    for (const [id, k] of drops) {
      const rc = this.refCounts[id]!;
      if (rc < k) throw new BlockPoolError(`BlockPool.free: block ${id} has refcount ${rc}, cannot drop ${k} reference(s)`);
    }
    for (const [id, k] of drops) {
      const rc = (this.refCounts[id] = this.refCounts[id]! - k);
      if (rc === 0) (this.hashOf[id] !== null ? this.freeCached : this.freePlain).add(id);
    }
  }

  /** Add one reference to each id: in-use blocks (forks) or free cached ones (prefix hits). */
  incRef(ids: readonly number[]): void {
    const adds = this.countIds('incRef', ids);
    for (const [id] of adds) {
      if (this.refCounts[id] === 0 && !this.freeCached.has(id)) {
        throw new BlockPoolError(`BlockPool.incRef: block ${id} is free and holds no cached prefix; allocate it instead`);
      }
    }
    for (const [id, k] of adds) {
      if (this.refCounts[id] === 0) this.freeCached.delete(id);
      this.refCounts[id] = this.refCounts[id]! + k;
    }
  }

  refCount(id: number): number {
    this.checkId('refCount', id);
    return this.refCounts[id]!;
  }

  /** The block holding the K/V for `hash`, if cached (in use or free). Counts a query. */
  lookup(hash: BlockHash): number | undefined {
    this.queries++;
    const id = this.byHash.get(hash);
    if (id !== undefined) this.hits++;
    return id;
  }

  /** The hash a block is registered under, or null. */
  hashOfBlock(id: number): BlockHash | null {
    this.checkId('hashOfBlock', id);
    return this.hashOf[id]!;
  }

  /**
   * Register an in-use, full block under `hash`. Returns false (and registers nothing) when
   * caching is off or another block already holds that hash (the same prefix computed twice).
   */
  cacheBlock(id: number, hash: BlockHash): boolean {
    this.checkId('cacheBlock', id);
    if (this.refCounts[id] === 0) throw new BlockPoolError(`BlockPool.cacheBlock: block ${id} is free; only an in-use block can be cached`);
    const current = this.hashOf[id];
    if (current !== null) {
      if (current !== hash) throw new BlockPoolError(`BlockPool.cacheBlock: block ${id} is already cached under another hash`);
      return true;
    }
    if (!this.enablePrefixCaching || this.byHash.has(hash)) return false;
    this.hashOf[id] = hash;
    this.byHash.set(hash, id);
    return true;
  }

  stats(): BlockPoolStats {
    return {
      numBlocks: this.numBlocks,
      numFree: this.numFree,
      numFreeCached: this.freeCached.size,
      usage: 1 - this.numFree / this.numBlocks,
      prefixQueries: this.queries,
      prefixHits: this.hits,
      evictions: this.evictions,
    };
  }

  /** Assert every block is in exactly one state and the hash index matches. For tests and debug. */
  checkInvariants(): void {
    for (let id = 0; id < this.numBlocks; id++) {
      const rc = this.refCounts[id]!;
      const plain = this.freePlain.has(id);
      const cached = this.freeCached.has(id);
      assert(rc >= 0, () => `block ${id} has refcount ${rc}`);
      assert(!(plain && cached), () => `block ${id} is in both free lists`);
      assert((rc === 0) === (plain || cached), () => `block ${id}: refcount ${rc}, freePlain=${plain}, freeCached=${cached}`);
      const h = this.hashOf[id]!;
      assert(!cached || h !== null, () => `block ${id} is in freeCached without a hash`);
      assert(!plain || h === null, () => `block ${id} is in freePlain with a hash`);
      if (h !== null) assert(this.byHash.get(h) === id, () => `block ${id}'s hash maps to ${this.byHash.get(h)}`);
    }
    assert(this.freePlain.size + this.freeCached.size <= this.numBlocks, 'free lists larger than the pool');
  }

  private takeFreeBlock(): number {
    // A plain free block holds nothing worth keeping; evict a cached one only when none is left.
    const plain = this.freePlain.values().next();
    if (!plain.done) {
      this.freePlain.delete(plain.value);
      this.refCounts[plain.value] = 1;
      return plain.value;
    }
    const lru = this.freeCached.values().next();
    assert(!lru.done, 'takeFreeBlock called with no free block');
    const id = lru.value;
    this.freeCached.delete(id);
    const h = this.hashOf[id]!;
    assert(h !== null && this.byHash.get(h) === id, () => `evicting block ${id}: hash index out of sync`);
    this.byHash.delete(h);
    this.hashOf[id] = null;
    this.evictions++;
    this.refCounts[id] = 1;
    return id;
  }

  private checkId(fn: string, id: number): void {
    if (!Number.isInteger(id) || id < 0 || id >= this.numBlocks) {
      throw new BlockPoolError(`BlockPool.${fn}: unknown block id ${id} (pool has ids 0..${this.numBlocks - 1})`);
    }
  }

  private countIds(fn: string, ids: readonly number[]): Map<number, number> {
    const counts = new Map<number, number>();
    for (const id of ids) {
      this.checkId(fn, id);
      counts.set(id, (counts.get(id) ?? 0) + 1);
    }
    return counts;
  }
}
