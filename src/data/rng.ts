/**
 * A small seeded PRNG (mulberry32) and an integer hash. Everything in deepscale that needs
 * reproducible randomness (shuffles, synthetic data, splits) uses these, never Math.random,
 * so every rank computes the same stream from the same seed.
 */

/** Mix any number of 32-bit integers into one well-spread uint32 (murmur3-style finalizer per value). */
export function hash32(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) {
    let k = Math.imul(v | 0, 0xcc9e2d51);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, 0x1b873593);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  h ^= values.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Seeded generator: mulberry32 over a 32-bit state; the seed is hashed first so 0, 1, 2 give unrelated streams. */
export class Rng {
  private state: number;

  constructor(seed: number) {
    if (!Number.isFinite(seed)) throw new RangeError(`Rng: seed must be a finite number, got ${seed}`);
    this.state = hash32(Math.floor(seed) | 0, Math.floor(seed / 2 ** 32) | 0);
  }

  /** Next uint32. */
  nextU32(): number {
    this.state = (this.state + 0x6d2b79f5) | 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (t ^ (t >>> 14)) >>> 0;
  }

  /** Uniform float in [0, 1) with 53 random bits. */
  next(): number {
    const hi = this.nextU32() >>> 5; // 27 bits
    const lo = this.nextU32() >>> 6; // 26 bits
    return (hi * 67108864 + lo) / 9007199254740992;
  }

  /**
   * Moves on as `n` calls of normal() would, in O(1): the state is a counter that each nextU32
   * advances by one constant, and a normal sample takes four of them.
   */
  skipNormals(n: number): void {
    if (!Number.isInteger(n) || n < 0) throw new RangeError(`Rng.skipNormals: n must be a non-negative integer, got ${n}`);
    // 4n · step mod 2^32, in pieces that keep every product exact.
    for (let left = n; left > 0; ) {
      const k = Math.min(left, 2 ** 28);
      this.state = (this.state + Math.imul(4 * k, 0x6d2b79f5)) | 0;
      left -= k;
    }
  }

  /** Standard normal sample (Box–Muller). */
  normal(): number {
    const u = 1 - this.next(); // (0, 1]: log(u) is finite
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * this.next());
  }

  /** Uniform integer in [0, n). */
  int(n: number): number {
    if (!Number.isInteger(n) || n <= 0) throw new RangeError(`Rng.int: n must be a positive integer, got ${n}`);
    return Math.floor(this.next() * n);
  }

  /** Fisher-Yates shuffle in place; returns the same array. */
  shuffle<T>(a: T[]): T[] {
    for (let i = a.length - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = a[i] as T;
      a[i] = a[j] as T;
      a[j] = t;
    }
    return a;
  }

  /** A permutation of 0..n-1. */
  permutation(n: number): Int32Array {
    const p = new Int32Array(n);
    for (let i = 0; i < n; i++) p[i] = i;
    for (let i = n - 1; i > 0; i--) {
      const j = this.int(i + 1);
      const t = p[i]!;
      p[i] = p[j]!;
      p[j] = t;
    }
    return p;
  }
}
