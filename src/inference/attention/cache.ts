/**
 * The K and V memory of one layer: a fixed number of blocks, each holding `blockSize` tokens.
 * A sequence's tokens live in the blocks its block table names, in table order; the blocks
 * need not be contiguous or ordered in memory.
 *
 *   kCache (vCache alike), Float32Array [numBlocks, numKvHeads, blockSize, headDim]
 *
 *   block 0                                  block 1               block numBlocks-1
 *   ┌────────────────────────────────────────┬─────────────────────┬─ ─ ─ ┬──────────┐
 *   │ kvh0: tok0 … tok(B-1) │ kvh1: tok0 … │ … │ kvh0: …             │       │ …        │
 *   └────────────────────────────────────────┴─────────────────────┴─ ─ ─ ┴──────────┘
 *     one (kv head, token) = headDim floats
 *
 *   Head-major inside a block (as vLLM's value cache): attention reads one kv head's keys of a
 *   block as one contiguous run of blockSize·headDim floats, which streams from memory about
 *   twice as fast as token-major rows (measured on the wasm kernel with cold caches).
 *
 *   slot = block * blockSize + offset     (what slotMapping holds per new token)
 *   K of (slot, kvHead) starts at ((block * numKvHeads + kvHead) * blockSize + offset) * headDim
 *
 *   block table of a sequence: [7, 2, 9]  → positions 0..B-1 in block 7, B..2B-1 in block 2, …
 */
import { assert } from '../../errors.ts';

export interface KvCacheShape {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly numKvHeads: number;
  readonly headDim: number;
}

export interface KvLayerCache extends KvCacheShape {
  readonly kCache: Float32Array; // [numBlocks, Hkv, blockSize, Dh]
  readonly vCache: Float32Array; // [numBlocks, Hkv, blockSize, Dh]
}

/** Floats per block in one of kCache / vCache. */
export function blockStride(shape: KvCacheShape): number {
  return shape.blockSize * shape.numKvHeads * shape.headDim;
}

/** A zeroed cache for one layer (device pool or host swap pool alike). */
export function createKvLayerCache(shape: KvCacheShape): KvLayerCache {
  for (const key of ['numBlocks', 'blockSize', 'numKvHeads', 'headDim'] as const) {
    assert(Number.isInteger(shape[key]) && shape[key] > 0, () => `createKvLayerCache: ${key} must be a positive integer, got ${shape[key]}`);
  }
  const n = shape.numBlocks * blockStride(shape);
  return { ...shape, kCache: new Float32Array(n), vCache: new Float32Array(n) };
}

/**
 * Writes this step's K and V into their slots. k, v: [numTokens, Hkv, Dh]; slotMapping [numTokens].
 * A slot of -1 means "no slot" (a padding token) and is skipped, as in vLLM.
 */
export function writeKv(cache: KvLayerCache, slotMapping: Int32Array, k: Float32Array, v: Float32Array): void {
  const { numKvHeads: Hkv, headDim: Dh, blockSize: B } = cache;
  const per = Hkv * Dh;
  const numSlots = cache.numBlocks * cache.blockSize;
  const numTokens = slotMapping.length;
  assert(k.length === numTokens * per && v.length === numTokens * per, () => `writeKv: k has ${k.length} and v ${v.length} values, expected ${numTokens} tokens × ${cache.numKvHeads} kv heads × ${cache.headDim} = ${numTokens * per}`);
  for (let t = 0; t < numTokens; t++) {
    const slot = slotMapping[t]!;
    if (slot === -1) continue;
    assert(slot >= 0 && slot < numSlots, () => `writeKv: slotMapping[${t}] = ${slot} is outside the ${numSlots} slots (${cache.numBlocks} blocks × ${cache.blockSize})`);
    const block = Math.floor(slot / B);
    const offset = slot - block * B;
    for (let h = 0; h < Hkv; h++) {
      const src = t * per + h * Dh;
      const dst = ((block * Hkv + h) * B + offset) * Dh;
      for (let d = 0; d < Dh; d++) {
        cache.kCache[dst + d] = k[src + d]!;
        cache.vCache[dst + d] = v[src + d]!;
      }
    }
  }
}
