/**
 * Paged attention over a ragged batch, in plain TypeScript on Float32Array.
 *
 * The batch's query tokens are packed: sequence s owns q rows queryStart .. queryStart+queryLen-1.
 * A decoding sequence has queryLen 1; a prefilling one a chunk of several tokens, possibly
 * continuing an earlier chunk. Its K/V (this step's included, written by writeKv first) are the
 * contextLen first positions of its block table. Query i sits at position
 * contextLen - queryLen + i and sees positions 0 ..= that (causal). Nothing is padded.
 *
 * GQA: head h reads kv head floor(h / (H / Hkv)).
 * Softmax: online, one block of keys at a time (scores of the block, then one rescale of the
 * running sum and accumulator when the maximum grows), in float64.
 */
import { assert } from '../../errors.ts';

export interface AttentionSeq {
  /** First row of this sequence in q / out. */
  readonly queryStart: number;
  /** Query tokens this step (1 for decode). */
  readonly queryLen: number;
  /** Tokens in the cache, this step's included. */
  readonly contextLen: number;
}

export interface PagedAttentionArgs {
  readonly q: Float32Array; // [numTokens, H, Dh]
  readonly kCache: Float32Array; // [numBlocks, Hkv, blockSize, Dh]
  readonly vCache: Float32Array; // [numBlocks, Hkv, blockSize, Dh]
  readonly blockTables: readonly Int32Array[]; // per seq: block ids in position order
  readonly seqs: readonly AttentionSeq[];
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly blockSize: number;
  readonly scale: number;
  /** Where to write [numTokens, H, Dh]; a new array when absent. Rows no sequence owns are left as they are. */
  readonly out?: Float32Array;
}

// Scratch reused across calls, grown when a call needs more: per head the running max M [H],
// running sum L [H], accumulator ACC [H, Dh], and one block's scores SC [H, blockSize].
let M = new Float64Array(8);
let L = new Float64Array(8);
let ACC = new Float64Array(256);
let SC = new Float64Array(128);

/** Checks the shapes and every block id a call will read (the wasm kernel has no bounds checks of its own). */
export function validatePagedAttention(a: Omit<PagedAttentionArgs, 'q' | 'out'> & { readonly q: { readonly length: number } }, numTokens: number): void {
  const { numHeads: H, numKvHeads: Hkv, headDim: Dh, blockSize: B } = a;
  assert(Hkv > 0 && H % Hkv === 0, () => `pagedAttention: numHeads ${H} is not a multiple of numKvHeads ${Hkv}`);
  assert(a.q.length === numTokens * H * Dh, () => `pagedAttention: q has ${a.q.length} values, not a multiple of H ${H} × Dh ${Dh}`);
  const numBlocks = a.kCache.length / (B * Hkv * Dh);
  assert(Number.isInteger(numBlocks) && a.vCache.length === a.kCache.length, () => `pagedAttention: kCache (${a.kCache.length}) and vCache (${a.vCache.length}) must both be [numBlocks, ${Hkv}, ${B}, ${Dh}]`);
  assert(a.blockTables.length === a.seqs.length, () => `pagedAttention: ${a.seqs.length} sequences but ${a.blockTables.length} block tables`);
  a.seqs.forEach((s, i) => {
    assert(s.queryLen >= 0 && s.queryLen <= s.contextLen, () => `pagedAttention: seqs[${i}] queryLen ${s.queryLen} must be in 0..contextLen ${s.contextLen}`);
    assert(s.queryStart >= 0 && s.queryStart + s.queryLen <= numTokens, () => `pagedAttention: seqs[${i}] rows ${s.queryStart}..${s.queryStart + s.queryLen - 1} are outside the ${numTokens} query tokens`);
    const table = a.blockTables[i]!;
    const need = Math.ceil(s.contextLen / B);
    assert(table.length >= need, () => `pagedAttention: seqs[${i}] has contextLen ${s.contextLen} (${need} blocks of ${B}) but a block table of ${table.length}`);
    for (let b = 0; b < need; b++) {
      const id = table[b]!;
      assert(id >= 0 && id < numBlocks, () => `pagedAttention: blockTables[${i}][${b}] = ${id} is outside 0..${numBlocks - 1}`);
    }
  });
}

export function pagedAttention(a: PagedAttentionArgs): Float32Array {
  const { q, numHeads: H, headDim: Dh, blockSize: B } = a;
  const numTokens = q.length / (H * Dh);
  validatePagedAttention(a, numTokens);
  const out = a.out ?? new Float32Array(q.length);
  assert(out.length === q.length, () => `pagedAttention: out has ${out.length} values, q has ${q.length}`);
  if (M.length < H) (M = new Float64Array(H)), (L = new Float64Array(H));
  if (ACC.length < H * Dh) ACC = new Float64Array(H * Dh);
  if (SC.length < H * B) SC = new Float64Array(H * B);
  for (let s = 0; s < a.seqs.length; s++) {
    const { queryStart, queryLen, contextLen } = a.seqs[s]!;
    const table = a.blockTables[s]!;
    for (let i = 0; i < queryLen; i++) {
      // query i sees positions 0 .. contextLen - queryLen + i
      attendRow(a, table, contextLen - queryLen + i + 1, (queryStart + i) * H * Dh, out);
    }
  }
  return out;
}

/**
 * All heads of one query row (starting at qRow in q / out) against positions 0..seen-1.
 * Blocks outside, heads inside: each block [Hkv, B, Dh] serves every head while it is in cache.
 */
function attendRow(a: PagedAttentionArgs, table: Int32Array, seen: number, qRow: number, out: Float32Array): void {
  const { q, kCache, vCache, numHeads: H, numKvHeads: Hkv, headDim: Dh, blockSize: B, scale } = a;
  const acc = ACC;
  const sc = SC;
  const group = H / Hkv;
  const tokStride = Dh; // floats between consecutive tokens of one kv head (head-major blocks)
  const dh4 = Dh - (Dh % 4);
  M.fill(-Infinity, 0, H);
  L.fill(0, 0, H);
  acc.fill(0, 0, H * Dh);
  const nBlocks = Math.ceil(seen / B);
  for (let b = 0; b < nBlocks; b++) {
    const cnt = b === nBlocks - 1 ? seen - b * B : B;
    const blockBase = table[b]! * Hkv * B * Dh;
    for (let h = 0; h < H; h++) {
      const qOff = qRow + h * Dh;
      const kvOff = blockBase + ((h / group) | 0) * B * Dh;
      const sOff = h * B;
      // this block's scores and their max; four partial sums break the add dependency chain
      let bm = -Infinity;
      for (let t = 0; t < cnt; t++) {
        const kOff = kvOff + t * tokStride;
        let s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        let d = 0;
        for (; d < dh4; d += 4) {
          s0 += q[qOff + d]! * kCache[kOff + d]!;
          s1 += q[qOff + d + 1]! * kCache[kOff + d + 1]!;
          s2 += q[qOff + d + 2]! * kCache[kOff + d + 2]!;
          s3 += q[qOff + d + 3]! * kCache[kOff + d + 3]!;
        }
        for (; d < Dh; d++) s0 += q[qOff + d]! * kCache[kOff + d]!;
        const x = (s0 + s1 + s2 + s3) * scale;
        sc[sOff + t] = x;
        if (x > bm) bm = x;
      }
      // online softmax: rescale what was summed under the old max once per block
      const aOff = h * Dh;
      let m = M[h]!;
      let l = L[h]!;
      if (bm > m) {
        const corr = Math.exp(m - bm); // 0 on the first block
        l *= corr;
        for (let d = 0; d < Dh; d++) acc[aOff + d] = acc[aOff + d]! * corr;
        m = bm;
        M[h] = m;
      }
      for (let t = 0; t < cnt; t++) {
        const p = Math.exp(sc[sOff + t]! - m);
        l += p;
        const vOff = kvOff + t * tokStride;
        let d = 0;
        for (; d < dh4; d += 4) {
          acc[aOff + d] = acc[aOff + d]! + p * vCache[vOff + d]!;
          acc[aOff + d + 1] = acc[aOff + d + 1]! + p * vCache[vOff + d + 1]!;
          acc[aOff + d + 2] = acc[aOff + d + 2]! + p * vCache[vOff + d + 2]!;
          acc[aOff + d + 3] = acc[aOff + d + 3]! + p * vCache[vOff + d + 3]!;
        }
        for (; d < Dh; d++) acc[aOff + d] = acc[aOff + d]! + p * vCache[vOff + d]!;
      }
      L[h] = l;
    }
  }
  for (let h = 0; h < H; h++) {
    const inv = 1 / L[h]!;
    for (let d = 0; d < Dh; d++) out[qRow + h * Dh + d] = acc[h * Dh + d]! * inv;
  }
}
