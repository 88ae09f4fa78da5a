/**
 * Paged attention in WebAssembly SIMD, over KV pools that live in a runner's SharedArena.
 *
 * The pools are allocated once (allocKvPools) and handed out as ordinary KvLayerCache views, so
 * writeKv, copy-on-write and swapping work on them unchanged. Each thread makes its own
 * WasmPagedAttention over the same arena and pools; each has its own scratch region for a call's
 * sequence metadata and block tables (and, for run(), its copies of q and out).
 *
 * The kernel (kernels/paged_attention.c) has the contract of paged_attention.ts, which stays as the
 * readable reference; tests compare the two.
 */
import { assert } from '../../errors.ts';
import { ScratchRegion, type SharedArena } from '../wasm/arena.ts';
import { instantiateKernel, kernelModule } from '../wasm/module.ts';
import { blockStride, type KvCacheShape, type KvLayerCache } from './cache.ts';
import { validatePagedAttention, type AttentionSeq, type PagedAttentionArgs } from './paged_attention.ts';

const KERNEL = new URL('./kernels/paged_attention.wasm', import.meta.url);

type KernelFn = (
  q: number, out: number, k: number, v: number, meta: number, numSeqs: number, tables: number,
  H: number, Hkv: number, Dh: number, B: number, scale: number, scratch: number,
) => void;

/** Where every layer's pools are in the arena (byte offsets): plain data, to hand to other threads. */
export interface KvPoolLayout {
  readonly shape: KvCacheShape;
  readonly k: readonly number[];
  readonly v: readonly number[];
}

/** Allocates K and V pools [numBlocks, Hkv, blockSize, Dh] for `numLayers` layers. */
export function allocKvPools(arena: SharedArena, shape: KvCacheShape, numLayers: number): KvPoolLayout {
  const bytes = 4 * blockStride(shape) * shape.numBlocks;
  const k: number[] = [];
  const v: number[] = [];
  for (let l = 0; l < numLayers; l++) k.push(arena.alloc(bytes, `layer ${l} K pool`)), v.push(arena.alloc(bytes, `layer ${l} V pool`));
  return { shape, k, v };
}

/** The geometry of one call, for attend(): the rest is in the sequences. */
export interface AttendShape {
  readonly numHeads: number;
  readonly numKvHeads: number;
  readonly headDim: number;
  readonly blockSize: number;
  readonly scale: number;
}

export class WasmPagedAttention {
  /** Per layer: K/V pools [numBlocks, Hkv, blockSize, Dh], views into the arena. */
  readonly caches: readonly KvLayerCache[];
  private readonly arena: SharedArena;
  private readonly kernel: KernelFn;
  private readonly scratch: ScratchRegion;
  /** run()'s copies of q and out (the runner's own calls use attend() on rows already in the arena). */
  private readonly copies: ScratchRegion;

  /** Whether this runtime can run the kernel (WebAssembly SIMD and shared memory). */
  static available(): boolean {
    return kernelModule(KERNEL) !== null;
  }

  constructor(arena: SharedArena, pools: KvPoolLayout) {
    this.arena = arena;
    this.kernel = instantiateKernel(KERNEL, arena.memory).paged_attention as KernelFn;
    const floats = blockStride(pools.shape) * pools.shape.numBlocks;
    this.caches = pools.k.map((k, l) => ({ ...pools.shape, kCache: arena.f32(k, floats), vCache: arena.f32(pools.v[l]!, floats) }));
    this.scratch = new ScratchRegion(arena, 'attention scratch');
    this.copies = new ScratchRegion(arena, 'attention q/out copies');
  }

  /**
   * Attention of layer `layer` for query rows already in the arena: q at byte offset qOff
   * [numTokens, H, Dh], written to out at outOff. seqs / tables as in pagedAttention.
   */
  attend(layer: number, qOff: number, outOff: number, numTokens: number, seqs: readonly AttentionSeq[], tables: readonly Int32Array[], g: AttendShape): void {
    const cache = this.caches[layer]!;
    const { numHeads: H, numKvHeads: Hkv, headDim: Dh, blockSize: B } = g;
    validatePagedAttention({ q: { length: numTokens * H * Dh }, kCache: cache.kCache, vCache: cache.vCache, blockTables: tables, seqs, ...g }, numTokens);
    const S = seqs.length;
    const tableLen = tables.reduce((n, t) => n + t.length, 0);
    // scratch: meta [S, 4] │ tables │ the kernel's own: H·Dh + 2·H + B floats
    const off = this.scratch.reserve(4 * (4 * S + tableLen + H * Dh + 2 * H + B));
    const i32 = this.arena.i32(off, 4 * S + tableLen);
    let t = 4 * S;
    for (let s = 0; s < S; s++) {
      const seq = seqs[s]!;
      i32[4 * s] = seq.queryStart;
      i32[4 * s + 1] = seq.queryLen;
      i32[4 * s + 2] = seq.contextLen;
      i32[4 * s + 3] = t - 4 * S;
      i32.set(tables[s]!, t);
      t += tables[s]!.length;
    }
    this.kernel(qOff, outOff, cache.kCache.byteOffset, cache.vCache.byteOffset, off, S, off + 16 * S, H, Hkv, Dh, B, g.scale, off + 4 * (4 * S + tableLen));
  }

  /** pagedAttention over one of these pools (a.kCache / a.vCache must be from `caches`), q and out copied through the arena. */
  run(a: PagedAttentionArgs): Float32Array {
    const layer = this.caches.findIndex((c) => c.kCache === a.kCache && c.vCache === a.vCache);
    assert(layer >= 0, 'WasmPagedAttention.run: kCache/vCache are not pools of this kernel');
    const numTokens = a.q.length / (a.numHeads * a.headDim);
    validatePagedAttention(a, numTokens);
    const out = a.out ?? new Float32Array(a.q.length);
    assert(out.length === a.q.length, () => `pagedAttention: out has ${out.length} values, q has ${a.q.length}`);
    const qOff = this.copies.reserve(8 * a.q.length);
    this.arena.f32(qOff, a.q.length).set(a.q);
    const outView = this.arena.f32(qOff + 4 * a.q.length, a.q.length);
    outView.set(out); // rows no sequence owns keep their values, as in the reference
    this.attend(layer, qOff, qOff + 4 * a.q.length, numTokens, a.seqs, a.blockTables, a);
    out.set(outView);
    return out;
  }
}
