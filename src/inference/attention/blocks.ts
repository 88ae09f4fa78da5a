/**
 * Whole-block copies: copy-on-write inside one pool (a forked sequence writes into a shared
 * last block), and swapping between the device pool and a host pool of the same per-block shape.
 * The pairs are what the KV cache manager hands out ({src, dst} copies, {from, to} swaps).
 */
import { assert } from '../../errors.ts';
import { blockStride, type KvCacheShape, type KvLayerCache } from './cache.ts';

export interface BlockCopyPair {
  readonly src: number;
  readonly dst: number;
}

export interface BlockSwapPair {
  readonly from: number;
  readonly to: number;
}

function checkBlock(fn: string, what: string, id: number, cache: KvCacheShape): void {
  assert(Number.isInteger(id) && id >= 0 && id < cache.numBlocks, () => `${fn}: ${what} block ${id} is outside 0..${cache.numBlocks - 1}`);
}

/** Copies block src to block dst (K and V) for each pair, within one cache. */
export function copyBlocks(cache: KvLayerCache, pairs: readonly BlockCopyPair[]): void {
  const stride = blockStride(cache);
  for (const { src, dst } of pairs) {
    checkBlock('copyBlocks', 'src', src, cache);
    checkBlock('copyBlocks', 'dst', dst, cache);
    cache.kCache.copyWithin(dst * stride, src * stride, (src + 1) * stride);
    cache.vCache.copyWithin(dst * stride, src * stride, (src + 1) * stride);
  }
}

/** Copies block `from` of `src` to block `to` of `dst` for each pair; the two caches must agree on the block shape. */
export function copyBlocksBetween(src: KvLayerCache, dst: KvLayerCache, pairs: readonly BlockSwapPair[], fn = 'copyBlocksBetween'): void {
  assert(
    src.blockSize === dst.blockSize && src.numKvHeads === dst.numKvHeads && src.headDim === dst.headDim,
    () => `${fn}: block shapes differ: [${src.blockSize}, ${src.numKvHeads}, ${src.headDim}] vs [${dst.blockSize}, ${dst.numKvHeads}, ${dst.headDim}]`,
  );
  const stride = blockStride(src);
  for (const { from, to } of pairs) {
    checkBlock(fn, 'from', from, src);
    checkBlock(fn, 'to', to, dst);
    dst.kCache.set(src.kCache.subarray(from * stride, (from + 1) * stride), to * stride);
    dst.vCache.set(src.vCache.subarray(from * stride, (from + 1) * stride), to * stride);
  }
}

/** Device → host: `from` is a device block, `to` a host block. */
export function swapOut(device: KvLayerCache, host: KvLayerCache, pairs: readonly BlockSwapPair[]): void {
  copyBlocksBetween(device, host, pairs, 'swapOut');
}

/** Host → device: `from` is a host block, `to` a device block. */
export function swapIn(host: KvLayerCache, device: KvLayerCache, pairs: readonly BlockSwapPair[]): void {
  copyBlocksBetween(host, device, pairs, 'swapIn');
}
