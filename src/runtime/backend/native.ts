import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';

/**
 * deepscale's optional N-API addon (native/, built at install by scripts/build_native.mjs where a
 * C compiler is present): a threaded sgemm with an AVX2+FMA micro-kernel, chosen at run time.
 * Absent or disabled, the training matmuls stay on tfjs-wasm's XNNPACK (128-bit SIMD, one thread).
 */
export interface NativeKernels {
  /** Micro-kernel in use: 'avx2+fma' or 'c' (portable). */
  readonly isa: string;
  readonly threads: number;
  /** C[b] = op(A[b])·op(B[b]); op(A) [M, K], op(B) [K, N]; strides in elements (0 broadcasts). */
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, strideC: number): void;
}

export interface NativeStatus {
  readonly kernels: NativeKernels | null;
  /** Why it is live or not: 'loaded native/build/ds_native.node', 'disabled by DS_NATIVE=0', … */
  readonly why: string;
}

interface Addon {
  isa(): string;
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, M: number, N: number, K: number,
    transA: number, transB: number, strideA: number, strideB: number, strideC: number, threads: number): void;
}

export const ADDON_PATH = fileURLToPath(new URL('../../../native/build/ds_native.node', import.meta.url));

/**
 * Loads the addon. `enabled` false (DS_NATIVE=0) keeps the wasm kernels; `threads` defaults to
 * every core this process may use.
 */
export function loadNative(opts: { enabled: boolean; threads?: number }): NativeStatus {
  if (!opts.enabled) return { kernels: null, why: 'disabled by DS_NATIVE=0' };
  if (!existsSync(ADDON_PATH)) return { kernels: null, why: 'not built (no C compiler at install; `node scripts/build_native.mjs` builds it)' };
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch (err) {
    return { kernels: null, why: `failed to load ${ADDON_PATH}: ${(err as Error).message.split('\n')[0]}` };
  }
  const threads = opts.threads ?? os.availableParallelism();
  const isa = addon.isa();
  return {
    why: `loaded native/build/ds_native.node (${isa}, ${threads} threads)`,
    kernels: {
      isa,
      threads,
      sgemm: (a, b, c, batch, M, N, K, ta, tb, sa, sb, sc) => addon.sgemm(a, b, c, batch, M, N, K, ta ? 1 : 0, tb ? 1 : 0, sa, sb, sc, threads),
    },
  };
}
