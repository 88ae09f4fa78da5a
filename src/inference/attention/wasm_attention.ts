/**
 * Paged attention in WebAssembly SIMD, over KV pools that live in the kernel's own memory.
 *
 * One WasmPagedAttention per model runner: its shared WebAssembly.Memory holds every layer's K
 * and V pools (handed out as ordinary KvLayerCache views, so writeKv, copy-on-write and swapping
 * work on them unchanged), and above them a scratch region for each call's queries, outputs,
 * sequence metadata and block tables. The memory is shared so that growing the scratch never
 * detaches the pool views (a shared buffer's old views stay valid), and so that worker threads
 * can later run the same kernel over the same pools.
 *
 *   memory: │ kernel's stack (2 pages) │ L0.K │ L0.V │ L1.K │ … │ scratch: q │ out │ meta │ tables │ acc │
 *
 * The kernel (kernels/paged_attention.c) has the contract of paged_attention.ts, which stays as the
 * readable reference and the path for caches that live elsewhere; tests compare the two.
 */
import { readFileSync } from 'node:fs';
import { assert } from '../../errors.ts';
import { blockStride, type KvCacheShape, type KvLayerCache } from './cache.ts';
import { validatePagedAttention, type PagedAttentionArgs } from './paged_attention.ts';

const PAGE = 65536;
/** Below this the module keeps its stack (wasm-ld's default layout for a 2-page minimum). */
const HEAP_BASE = 2 * PAGE;
const MAX_PAGES = 65536; // 4 GiB, the module's declared maximum

type KernelFn = (
  q: number, out: number, k: number, v: number, meta: number, numSeqs: number, tables: number,
  H: number, Hkv: number, Dh: number, B: number, scale: number, scratch: number,
) => void;

let compiled: WebAssembly.Module | null | undefined;

/** The compiled kernel, or null where this runtime lacks wasm SIMD or shared memory. */
function kernelModule(): WebAssembly.Module | null {
  if (compiled === undefined) {
    const bytes = readFileSync(new URL('./kernels/paged_attention.wasm', import.meta.url));
    compiled = WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null;
  }
  return compiled ?? null;
}

export class WasmPagedAttention {
  /** Per layer: K/V pools [numBlocks, blockSize, Hkv, Dh], views into the kernel's memory. */
  readonly caches: readonly KvLayerCache[];
  private readonly memory: WebAssembly.Memory;
  private readonly kernel: KernelFn;
  /** This thread's scratch: [scratchStart, scratchStart + scratchBytes). */
  private scratchStart: number;
  private scratchBytes: number;
  private f32: Float32Array;
  private i32: Int32Array;

  /** Whether this runtime can run the kernel (WebAssembly SIMD and shared memory). */
  static available(): boolean {
    return kernelModule() !== null;
  }

  /** Allocates the pools of `numLayers` layers in a new memory. */
  constructor(shape: KvCacheShape, numLayers: number);
  /** Runs over the pools already in `memory` (made by the constructor above, in another thread). */
  constructor(shape: KvCacheShape, numLayers: number, memory: WebAssembly.Memory);
  constructor(shape: KvCacheShape, numLayers: number, memory?: WebAssembly.Memory) {
    const mod = kernelModule();
    assert(mod !== null, 'WasmPagedAttention: this runtime cannot compile the wasm SIMD kernel (check WasmPagedAttention.available() first)');
    const poolBytes = blockStride(shape) * shape.numBlocks * 4;
    const poolsEnd = HEAP_BASE + 2 * numLayers * poolBytes;
    const pages = Math.ceil((poolsEnd + PAGE) / PAGE);
    assert(pages <= MAX_PAGES, () => `WasmPagedAttention: ${numLayers} layers × K,V × ${poolBytes} bytes exceed the 4 GiB a wasm memory can address; lower --kv-cache-memory`);
    if (memory) assert(memory.buffer.byteLength >= poolsEnd, () => `WasmPagedAttention: the memory given (${memory.buffer.byteLength} bytes) does not hold ${numLayers} layers of ${poolBytes}-byte pools`);
    this.memory = memory ?? new WebAssembly.Memory({ initial: pages, maximum: MAX_PAGES, shared: true });
    const instance = new WebAssembly.Instance(mod, { env: { memory: this.memory } });
    this.kernel = instance.exports.paged_attention as KernelFn;
    const buffer = this.memory.buffer;
    const floats = poolBytes / 4;
    this.caches = Array.from({ length: numLayers }, (_, l) => ({
      ...shape,
      kCache: new Float32Array(buffer, HEAP_BASE + 2 * l * poolBytes, floats),
      vCache: new Float32Array(buffer, HEAP_BASE + (2 * l + 1) * poolBytes, floats),
    }));
    // The allocating thread takes the page above the pools; an attached one grows its own region on first use.
    this.scratchStart = memory ? 0 : poolsEnd;
    this.scratchBytes = memory ? 0 : pages * PAGE - poolsEnd;
    this.f32 = new Float32Array(buffer);
    this.i32 = new Int32Array(buffer);
  }

  /** The memory holding the pools, to hand to another thread's WasmPagedAttention. */
  get sharedMemory(): WebAssembly.Memory {
    return this.memory;
  }

  /** Whether `cache` is one of this kernel's pools. */
  owns(cache: Pick<KvLayerCache, 'kCache' | 'vCache'>): boolean {
    return this.caches.some((c) => c.kCache === cache.kCache && c.vCache === cache.vCache);
  }

  /** pagedAttention over one of this kernel's pools (a.kCache / a.vCache must be from `caches`). */
  run(a: PagedAttentionArgs): Float32Array {
    const { q, numHeads: H, numKvHeads: Hkv, headDim: Dh, blockSize: B } = a;
    const numTokens = q.length / (H * Dh);
    validatePagedAttention(a, numTokens);
    assert(this.owns({ kCache: a.kCache, vCache: a.vCache }), 'WasmPagedAttention.run: kCache/vCache are not pools of this kernel');
    const out = a.out ?? new Float32Array(q.length);
    assert(out.length === q.length, () => `pagedAttention: out has ${out.length} values, q has ${q.length}`);
    const S = a.seqs.length;
    const tableLen = a.blockTables.reduce((n, t) => n + t.length, 0);
    // Scratch layout, in 4-byte words from the start of this thread's region.
    const words = 2 * q.length + 4 * S + tableLen + H * Dh + 2 * H + B;
    this.reserve(4 * words);
    const qW = this.scratchStart / 4;
    const outW = qW + q.length;
    const metaW = outW + q.length;
    const tablesW = metaW + 4 * S;
    const accW = tablesW + tableLen; // the kernel's scratch: H·Dh + 2·H + B floats
    const { f32, i32 } = this;
    f32.set(q, qW);
    let t = tablesW;
    for (let s = 0; s < S; s++) {
      const seq = a.seqs[s]!;
      const table = a.blockTables[s]!;
      const m = metaW + 4 * s;
      i32[m] = seq.queryStart;
      i32[m + 1] = seq.queryLen;
      i32[m + 2] = seq.contextLen;
      i32[m + 3] = t - tablesW;
      i32.set(table, t);
      t += table.length;
    }
    // Rows no sequence owns keep their values (zeros in a new array), as in the reference.
    f32.set(out, outW);
    this.kernel(4 * qW, 4 * outW, a.kCache.byteOffset, a.vCache.byteOffset, 4 * metaW, S, 4 * tablesW, H, Hkv, Dh, B, a.scale, 4 * accW);
    out.set(f32.subarray(outW, outW + q.length));
    return out;
  }

  /** Makes this thread's scratch region at least `bytes` long (a new region at the memory's end if not). */
  private reserve(bytes: number): void {
    if (bytes > this.scratchBytes) {
      const size = Math.max(bytes, 2 * this.scratchBytes);
      const pages = Math.ceil(size / PAGE);
      assert(this.memory.buffer.byteLength / PAGE + pages <= MAX_PAGES, () => `WasmPagedAttention: a batch needing ${bytes} bytes of scratch exceeds the 4 GiB wasm memory`);
      this.scratchStart = this.memory.grow(pages) * PAGE;
      this.scratchBytes = pages * PAGE;
    }
    if (this.f32.length * 4 < this.scratchStart + this.scratchBytes) {
      this.f32 = new Float32Array(this.memory.buffer);
      this.i32 = new Int32Array(this.memory.buffer);
    }
  }
}
