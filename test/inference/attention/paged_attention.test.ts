import { describe, expect, it } from 'vitest';
import { Rng } from '../../../src/data/rng.ts';
import { SharedArena } from '../../../src/inference/wasm/arena.ts';
import { allocKvPools, createKvLayerCache, pagedAttention, WasmPagedAttention, writeKv, type AttentionSeq, type KvLayerCache, type PagedAttentionArgs } from '../../../src/inference/attention/index.ts';

interface Case {
  numHeads: number;
  numKvHeads: number;
  headDim: number;
  blockSize: number;
  /** per sequence: [contextLen, queryLen] */
  shapes: [number, number][];
}

/** A batch with every sequence's full K/V kept densely (float32 values, read as float64) for the reference. */
interface Batch {
  cache: KvLayerCache;
  q: Float32Array; // [numTokens, H, Dh]
  seqs: AttentionSeq[];
  blockTables: Int32Array[];
  dense: { k: Float32Array; v: Float32Array }[]; // per seq [contextLen, Hkv, Dh]
}

function randn(rng: Rng, n: number): Float32Array {
  const a = new Float32Array(n);
  for (let i = 0; i < n; i++) a[i] = rng.next() * 2 - 1;
  return a;
}

function buildBatch(c: Case, seed: number): Batch {
  const rng = new Rng(seed);
  const per = c.numKvHeads * c.headDim;
  const blocksPer = c.shapes.map(([ctx]) => Math.ceil(ctx / c.blockSize));
  const numBlocks = blocksPer.reduce((a, b) => a + b, 0) + 3; // a few unused blocks
  const cache = createKvLayerCache({ numBlocks, blockSize: c.blockSize, numKvHeads: c.numKvHeads, headDim: c.headDim });
  // Shuffled block ids handed out to sequences: tables are non-contiguous and out of order.
  const ids = [...rng.permutation(numBlocks)];
  const seqs: AttentionSeq[] = [];
  const blockTables: Int32Array[] = [];
  const dense: Batch['dense'] = [];
  let queryStart = 0;
  c.shapes.forEach(([contextLen, queryLen], s) => {
    const table = Int32Array.from(ids.splice(0, blocksPer[s]!));
    const k = randn(rng, contextLen * per);
    const v = randn(rng, contextLen * per);
    const slots = Int32Array.from({ length: contextLen }, (_, p) => table[Math.floor(p / c.blockSize)]! * c.blockSize + (p % c.blockSize));
    writeKv(cache, slots, k, v);
    seqs.push({ queryStart, queryLen, contextLen });
    blockTables.push(table);
    dense.push({ k, v });
    queryStart += queryLen;
  });
  return { cache, q: randn(rng, queryStart * c.numHeads * c.headDim), seqs, blockTables, dense };
}

/** Dense causal attention in float64, straight from the definition. */
function reference(c: Case, b: Batch, scale: number): Float64Array {
  const { numHeads: H, numKvHeads: Hkv, headDim: Dh } = c;
  const out = new Float64Array(b.q.length);
  b.seqs.forEach((s, si) => {
    const { k, v } = b.dense[si]!;
    for (let i = 0; i < s.queryLen; i++) {
      const pos = s.contextLen - s.queryLen + i;
      const row = s.queryStart + i;
      for (let h = 0; h < H; h++) {
        const kvh = Math.floor(h / (H / Hkv));
        const scores: number[] = [];
        for (let j = 0; j <= pos; j++) {
          let dot = 0;
          for (let d = 0; d < Dh; d++) dot += b.q[(row * H + h) * Dh + d]! * k[(j * Hkv + kvh) * Dh + d]!;
          scores.push(dot * scale);
        }
        const m = Math.max(...scores);
        const w = scores.map((x) => Math.exp(x - m));
        const z = w.reduce((a, x) => a + x, 0);
        for (let d = 0; d < Dh; d++) {
          let acc = 0;
          for (let j = 0; j <= pos; j++) acc += (w[j]! / z) * v[(j * Hkv + kvh) * Dh + d]!;
          out[(row * H + h) * Dh + d] = acc;
        }
      }
    }
  });
  return out;
}

function maxAbsDiff(a: ArrayLike<number>, b: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) m = Math.max(m, Math.abs(a[i]! - b[i]!));
  return m;
}

/** The two implementations: the TypeScript reference, and the wasm SIMD kernel over a copy of the pool in its memory. */
type Impl = (a: PagedAttentionArgs) => Float32Array;
const js: Impl = pagedAttention;
const arena = SharedArena.create(1 << 20); // one memory for every call (each takes pools of its own in it)
const wasm: Impl = (a) => {
  const shape = { numBlocks: a.kCache.length / (a.blockSize * a.numKvHeads * a.headDim), blockSize: a.blockSize, numKvHeads: a.numKvHeads, headDim: a.headDim };
  const kernel = new WasmPagedAttention(arena, allocKvPools(arena, shape, 1));
  const pool = kernel.caches[0]!;
  pool.kCache.set(a.kCache);
  pool.vCache.set(a.vCache);
  return kernel.run({ ...a, kCache: pool.kCache, vCache: pool.vCache });
};

/** Random ragged batch: decodes (queryLen 1), whole prefills, and chunks continuing a context. */
function randomShapes(rng: Rng, n: number): [number, number][] {
  return Array.from({ length: n }, (): [number, number] => {
    const ctx = 1 + rng.int(70);
    const kind = rng.int(3);
    return [ctx, kind === 0 ? 1 : kind === 1 ? ctx : 1 + rng.int(ctx)];
  });
}

for (const [implName, impl] of [['TypeScript', js], ['wasm SIMD', wasm]] as const) {
  function run(c: Case, b: Batch, scale: number): Float32Array {
    return impl({ q: b.q, kCache: b.cache.kCache, vCache: b.cache.vCache, blockTables: b.blockTables, seqs: b.seqs, numHeads: c.numHeads, numKvHeads: c.numKvHeads, headDim: c.headDim, blockSize: c.blockSize, scale });
  }

  describe(`pagedAttention (${implName}) equals dense causal attention (float64 reference)`, () => {
    const layouts: [string, number, number, number][] = [
      ['MHA', 4, 4, 8],
      ['GQA 8/2', 8, 2, 16],
      ['MQA 6/1', 6, 1, 4],
      ['GQA 8/4, Dh 32', 8, 4, 32],
      ['MHA, Dh 64', 2, 2, 64],
      ['GQA 4/2, Dh 128', 4, 2, 128],
      ['MHA, Dh 6 (not a multiple of 4)', 3, 3, 6],
    ];
    for (const blockSize of [1, 3, 16]) {
      for (const [name, H, Hkv, Dh] of layouts) {
        it(`${name}, blockSize ${blockSize}, random ragged batches`, () => {
          for (let trial = 0; trial < 3; trial++) {
            const rng = new Rng(1000 * blockSize + 10 * H + trial);
            const c: Case = { numHeads: H, numKvHeads: Hkv, headDim: Dh, blockSize, shapes: randomShapes(rng, 2 + rng.int(5)) };
            const b = buildBatch(c, rng.nextU32());
            const scale = 1 / Math.sqrt(Dh);
            expect(maxAbsDiff(run(c, b, scale), reference(c, b, scale))).toBeLessThan(1e-5);
          }
        });
      }
    }

    it('chunked prefill continuing an existing context, next to decodes', () => {
      // seq 0: 40 tokens cached, a chunk of 13 more; seq 1 and 2 decode; seq 3 first chunk of a prompt.
      const c: Case = { numHeads: 4, numKvHeads: 2, headDim: 8, blockSize: 16, shapes: [[53, 13], [17, 1], [33, 1], [9, 9]] };
      const b = buildBatch(c, 7);
      expect(maxAbsDiff(run(c, b, 0.3), reference(c, b, 0.3))).toBeLessThan(1e-5);
    });

    it('two chunks of one prompt give the rows of the whole prefill', () => {
      const c: Case = { numHeads: 4, numKvHeads: 1, headDim: 8, blockSize: 4, shapes: [[30, 30]] };
      const b = buildBatch(c, 11);
      const whole = run(c, b, 0.5);
      const rowLen = c.numHeads * c.headDim;
      // chunk 2: positions 18..29 against a context of 30, its q rows the last 12 of the whole prompt
      const q2 = b.q.slice(18 * rowLen);
      const part = impl({ q: q2, kCache: b.cache.kCache, vCache: b.cache.vCache, blockTables: b.blockTables, seqs: [{ queryStart: 0, queryLen: 12, contextLen: 30 }], numHeads: 4, numKvHeads: 1, headDim: 8, blockSize: 4, scale: 0.5 });
      expect(maxAbsDiff(part, whole.subarray(18 * rowLen))).toBe(0);
    });

    it('large scores stay finite (online softmax is stable)', () => {
      const c: Case = { numHeads: 2, numKvHeads: 2, headDim: 4, blockSize: 2, shapes: [[9, 3]] };
      const b = buildBatch(c, 3);
      const out = run(c, b, 400); // scores up to ~±1600: exp would overflow without the running max
      expect(out.every(Number.isFinite)).toBe(true);
      expect(maxAbsDiff(out, reference(c, b, 400))).toBeLessThan(1e-5);
    });

    it('rejects a block table too short for the context, naming the numbers', () => {
      const c: Case = { numHeads: 2, numKvHeads: 2, headDim: 4, blockSize: 4, shapes: [[9, 1]] };
      const b = buildBatch(c, 5);
      b.blockTables[0] = b.blockTables[0]!.slice(0, 2);
      expect(() => run(c, b, 1)).toThrow('seqs[0] has contextLen 9 (3 blocks of 4) but a block table of 2');
    });
  });
}
