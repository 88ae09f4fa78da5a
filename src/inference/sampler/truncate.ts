/**
 * top_k, then top_p, then min_p, and the draw. Over the tokens sorted by probability (ties:
 * lower id first) each keeps a prefix:
 *   top_k  the k most likely;
 *   top_p  (over the distribution renormalized after top_k) a token stays while the mass of the
 *          tokens ranked above it is < top_p: the smallest prefix with mass ≥ top_p;
 *   min_p  a token stays when p ≥ min_p · p_max (a ratio, so renormalizing does not change it).
 * Nothing sorts the whole vocabulary. top_k selects its k with a heap (O(V log k)). top_p alone
 * buckets the tokens by logit (a bucket's tokens are all more likely than the next bucket's),
 * keeps whole buckets while their mass stays below top_p, and sorts only the bucket the cut
 * falls in. min_p is a threshold on p / p_max.
 */
import { assert } from '../../errors.ts';
import type { SamplingParams } from './params.ts';
import { topKIndices } from './select.ts';
import type { SamplerRng } from './generator.ts';

const NUM_BUCKETS = 2048;
/** Buckets span logits in [max - RANGE, max]; everything lower (p / p_max < e^-40) shares the last. */
const RANGE = 40;

export class TruncateScratch {
  /** Candidate ids. */
  readonly cand: Int32Array;
  readonly heap: Int32Array;
  /** Unnormalized weights exp(x - max), valid for the candidates (all V when not truncated). */
  readonly w: Float64Array;
  readonly bucketOf: Uint16Array;
  readonly bucketMass = new Float64Array(NUM_BUCKETS);
  constructor(vocabSize: number) {
    this.cand = new Int32Array(vocabSize);
    this.heap = new Int32Array(vocabSize);
    this.w = new Float64Array(vocabSize);
    this.bucketOf = new Uint16Array(vocabSize);
  }
}

/**
 * Keeps the candidates of one row of temperature-scaled logits x [V]. Returns how many are kept
 * (ids in s.cand), or -1 when nothing is truncated; s.w holds their weights either way.
 */
export function truncate(x: Float64Array, vocabSize: number, params: SamplingParams, s: TruncateScratch): number {
  const { topK, topP, minP } = params;
  const w = s.w;
  if (topK > 0 && topK < vocabSize) {
    const k = topKIndices(x, vocabSize, topK, s.cand, s.heap); // sorted, best first
    const m = x[s.cand[0]!]!;
    assert(m > -Infinity, 'sampler: every token has logit -Infinity');
    let z = 0;
    for (let i = 0; i < k; i++) z += w[s.cand[i]!] = Math.exp(x[s.cand[i]!]! - m);
    let mass = 0;
    for (let i = 0; i < k; i++) {
      const wi = w[s.cand[i]!]!;
      if ((i > 0 && topP < 1 && mass >= topP * z) || wi < minP) return i;
      mass += wi;
    }
    return k;
  }
  let m = -Infinity;
  for (let i = 0; i < vocabSize; i++) if (x[i]! > m) m = x[i]!;
  assert(m > -Infinity, 'sampler: every token has logit -Infinity');
  let z = 0;
  for (let i = 0; i < vocabSize; i++) z += w[i] = Math.exp(x[i]! - m);
  if (topP < 1) return filterMinP(s, topPCandidates(x, vocabSize, m, topP * z, s), minP);
  if (minP > 0) {
    let n = 0;
    for (let i = 0; i < vocabSize; i++) if (w[i]! >= minP) s.cand[n++] = i;
    return n;
  }
  return -1;
}

/** The top_p prefix (mass before each kept token < target), by buckets of logit; ids in s.cand. */
function topPCandidates(x: Float64Array, vocabSize: number, m: number, target: number, s: TruncateScratch): number {
  const { w, bucketOf, bucketMass, cand } = s;
  bucketMass.fill(0);
  const per = NUM_BUCKETS / RANGE;
  for (let i = 0; i < vocabSize; i++) {
    const d = m - x[i]!;
    const b = d < RANGE ? (d * per) | 0 : NUM_BUCKETS - 1; // -Infinity and NaN go to the last
    bucketOf[i] = b;
    bucketMass[b] = bucketMass[b]! + w[i]!;
  }
  // the cut bucket: the first whose end reaches the target; all before it are kept whole
  let cut = 0;
  let before = 0;
  while (cut < NUM_BUCKETS - 1 && before + bucketMass[cut]! < target) before += bucketMass[cut++]!;
  let n = 0;
  let tail = vocabSize;
  for (let i = 0; i < vocabSize; i++) {
    const b = bucketOf[i]!;
    if (b < cut) cand[n++] = i;
    else if (b === cut) cand[--tail] = i; // gathered at the back, then sorted
  }
  const edge = cand.subarray(tail, vocabSize).sort((a, b) => x[b]! - x[a]! || a - b);
  let mass = before;
  for (let j = 0; j < edge.length && mass < target; j++) {
    const id = edge[j]!;
    cand[n++] = id;
    mass += w[id]!;
  }
  return n;
}

/** Drops candidates with p / p_max < minP, keeping order. */
function filterMinP(s: TruncateScratch, n: number, minP: number): number {
  if (minP <= 0) return n;
  let kept = 0;
  for (let i = 0; i < n; i++) {
    const id = s.cand[i]!;
    if (s.w[id]! >= minP) s.cand[kept++] = id;
  }
  return kept;
}

/** Draws one of ids[0..n) (or of 0..n-1 when ids is null) with probability ∝ w[id]. */
export function draw(w: Float64Array, ids: Int32Array | null, n: number, rng: SamplerRng): number {
  let z = 0;
  for (let i = 0; i < n; i++) z += w[ids ? ids[i]! : i]!;
  const u = rng.next() * z;
  let acc = 0;
  let last = -1;
  for (let i = 0; i < n; i++) {
    const id = ids ? ids[i]! : i;
    const wi = w[id]!;
    if (wi === 0) continue;
    acc += wi;
    last = id;
    if (u < acc) return id;
  }
  assert(last >= 0, 'sampler: no candidate token has a non-zero probability');
  return last; // u within rounding of z
}
