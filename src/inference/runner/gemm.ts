/**
 * The runner's matrix products: C[M, N] = A[M, K] · W[K, N] in WebAssembly SIMD
 * (kernels/gemm.c), in place in the runner's SharedArena. Weights are packed once into panels of
 * 8 columns ([ceil(N/8), K, 8], the last panel zero-padded) so the kernel streams them; threads
 * may split C by columns (n0, n1 on panel boundaries).
 */
import { assert } from '../../errors.ts';
import type { HostTensor } from '../loaders/types.ts';
import type { SharedArena } from '../wasm/arena.ts';
import { instantiateKernel } from '../wasm/module.ts';

const KERNEL = new URL('./kernels/gemm.wasm', import.meta.url);
const PANEL = 8;

/** A packed weight in the arena: plain data, to hand to other threads. */
export interface PackedMatrix {
  readonly offset: number;
  readonly K: number;
  readonly N: number;
}

/**
 * Packs HF linear weights [out_k, in] (same in), stacked along out, as one W [in, Σ out_k]:
 * column n of W is row n of the stack. E.g. q, k, v projections → one fused qkv product.
 */
export function packLinear(arena: SharedArena, parts: readonly HostTensor[], what: string): PackedMatrix {
  const K = parts[0]!.shape[1]!;
  const N = parts.reduce((n, p) => n + p.shape[0]!, 0);
  const panels = Math.ceil(N / PANEL);
  const offset = arena.alloc(4 * panels * K * PANEL, what);
  const dst = arena.f32(offset, panels * K * PANEL);
  let n = 0;
  for (const part of parts) {
    assert(part.shape[1] === K, () => `packLinear(${what}): parts disagree on the input size (${part.shape[1]} vs ${K})`);
    for (let r = 0; r < part.shape[0]!; r++, n++) {
      const p = Math.floor(n / PANEL);
      const j = n % PANEL;
      const row = part.data.subarray(r * K, (r + 1) * K);
      for (let k = 0; k < K; k++) dst[(p * K + k) * PANEL + j] = row[k]!;
    }
  }
  return { offset, K, N };
}

export class WasmGemm {
  private readonly kernel: (a: number, packed: number, c: number, M: number, K: number, N: number, n0: number, n1: number) => void;
  private readonly siluKernel: (gu: number, out: number, F: number, rows: number) => void;

  constructor(arena: SharedArena) {
    const exports = instantiateKernel(KERNEL, arena.memory);
    this.kernel = exports.gemm as WasmGemm['kernel'];
    this.siluKernel = exports.silu_mul as WasmGemm['siluKernel'];
  }

  /** SwiGLU on the fused gate/up product: out[n, f] = silu(gu[n, f]) · gu[n, F + f]; gu [rows, 2F], out [rows, F] (arena offsets). */
  siluMul(guOff: number, outOff: number, F: number, rows: number): void {
    this.siluKernel(guOff, outOff, F, rows);
  }

  /** c[M, N] (byte offset cOff, row-major) = a[M, K] (aOff) · w, columns n0 ≤ n < n1 only. */
  run(aOff: number, w: PackedMatrix, cOff: number, M: number, n0 = 0, n1 = w.N): void {
    assert((n0 % PANEL === 0 || n0 === w.N) && n0 <= n1 && n1 <= w.N && (n1 === w.N || n1 % PANEL === 0), () => `WasmGemm: columns ${n0}..${n1} are not panel-aligned in 0..${w.N}`);
    if (M > 0 && n1 > n0) this.kernel(aOff, w.offset, cOff, M, w.K, w.N, n0, n1);
  }
}
