/**
 * How a buffer is cut. n segments (one per rank, the first count % n one element longer), each
 * streamed in chunks of at most chunkElems. An empty segment still sends one empty chunk, so
 * every step exchanges a header and a mismatch is seen even at length 0.
 *
 *   count = 10, n = 3:   | seg 0: [0,4) | seg 1: [4,7) | seg 2: [7,10) |
 */
import type { WireDtype } from '../types.ts';
import { bytesPerElement } from '../wire.ts';

export type Range = readonly [lo: number, hi: number];

export function evenSegments(count: number, n: number): Range[] {
  const base = Math.floor(count / n);
  const rem = count % n;
  const out: Range[] = [];
  for (let i = 0; i < n; i++) {
    const lo = i * base + Math.min(i, rem);
    out.push([lo, lo + base + (i < rem ? 1 : 0)]);
  }
  return out;
}

/** Segments of exactly m elements: the layout of reduceScatter inputs and allGather outputs. */
export function fixedSegments(m: number, n: number): Range[] {
  return Array.from({ length: n }, (_, i) => [i * m, (i + 1) * m] as const);
}

export function chunksOf([lo, hi]: Range, chunkElems: number): Range[] {
  if (hi === lo) return [[lo, lo]];
  const out: Range[] = [];
  for (let a = lo; a < hi; a += chunkElems) out.push([a, Math.min(hi, a + chunkElems)]);
  return out;
}

export function mod(a: number, n: number): number {
  return ((a % n) + n) % n;
}

/** A ring step's neighbours and chunking: rank r sends to r+1 and receives from r-1, about chunkBytes at a time. */
export function ringOf(rank: number, worldSize: number, chunkBytes: number, dtype: WireDtype): { next: number; prev: number; bpe: number; chunkElems: number } {
  const bpe = bytesPerElement(dtype);
  return { next: mod(rank + 1, worldSize), prev: mod(rank - 1, worldSize), bpe, chunkElems: Math.max(1, Math.floor(chunkBytes / bpe)) };
}
