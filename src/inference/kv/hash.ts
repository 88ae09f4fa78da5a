import { createHash } from 'node:crypto';
import { InvalidRequestError } from '../../errors.ts';

/**
 * Prefix-caching block hash. A full block's identity is its own token ids AND every token
 * before it, so the hash chains: hash(block i) = H(hash(block i-1) ‖ tokens of block i).
 * Two blocks with the same hash hold the same K/V (same model, same positions, same history).
 *
 * SHA-256 truncated to 128 bits: a collision would silently serve another prompt's K/V, so we
 * pay a crypto hash (~1 µs per block) rather than a 64-bit non-crypto one (birthday bound
 * 2^32 blocks). Hex strings key a Map directly.
 */
export type BlockHash = string;

/** The hash of the root (the "parent" of block 0). */
export const ROOT_BLOCK_HASH: BlockHash = '';

/** Hash one full block given its parent's hash; `tokenIds` are that block's tokens only. */
export function hashBlockTokens(parent: BlockHash, tokenIds: readonly number[]): BlockHash {
  const ints = new Uint32Array(tokenIds.length);
  for (let i = 0; i < tokenIds.length; i++) {
    const t = tokenIds[i]!;
    if (!Number.isInteger(t) || t < 0 || t > 0xffffffff) {
      throw new InvalidRequestError(`token id at index ${i} is ${t}, expected an integer in [0, 2^32)`, 'prompt');
    }
    ints[i] = t;
  }
  const h = createHash('sha256');
  h.update(parent, 'utf8');
  h.update(':');
  h.update(new Uint8Array(ints.buffer));
  return h.digest('hex').slice(0, 32);
}

/**
 * Extend `hashes` (the chain for the first hashes.length full blocks of `tokenIds`) to cover
 * every full block of `tokenIds`. Mutates and returns `hashes`; a partial tail block is not hashed.
 */
export function extendBlockHashes(hashes: BlockHash[], tokenIds: readonly number[], blockSize: number): BlockHash[] {
  const numFull = Math.floor(tokenIds.length / blockSize);
  for (let b = hashes.length; b < numFull; b++) {
    const parent = b === 0 ? ROOT_BLOCK_HASH : hashes[b - 1]!;
    hashes.push(hashBlockTokens(parent, tokenIds.slice(b * blockSize, (b + 1) * blockSize)));
  }
  return hashes;
}
