import { createRequire } from 'node:module';
import { existsSync } from 'node:fs';
import os from 'node:os';
import { fileURLToPath } from 'node:url';
import { DeepscaleError } from '../../errors.ts';
import { registerNativeKernels } from './native_kernels.ts';

/**
 * deepscale's optional N-API addon (native/, built at install by scripts/build_native.mjs where a
 * C compiler is present): a threaded sgemm with AVX-512 / AVX2+FMA micro-kernels chosen at run
 * time, and the fused training kernels (src/models/fused/), all on one persistent thread pool.
 * Absent or disabled, the training matmuls stay on tfjs-wasm's XNNPACK (128-bit SIMD, one thread)
 * and the fused ops on their tfjs compositions.
 */
export interface NativeKernels {
  /** Micro-kernel in use: 'avx512', 'avx2+fma' or 'c' (portable). */
  readonly isa: string;
  /** Threads of the pool (the calling thread included). */
  readonly threads: number;
  /** C[b] (+)= op(A[b])·op(B[b]); op(A) [M, K], op(B) [K, N]; strides in elements (0 broadcasts). */
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, M: number, N: number, K: number,
    transA: boolean, transB: boolean, strideA: number, strideB: number, strideC: number, accumulate?: boolean): void;
  /** The fused kernels (native/fused_*.c), called by src/runtime/backend/native_kernels.ts. */
  readonly fused: FusedAddon;
}

/** The addon's fused kernels: arrays are views (into the wasm heap), written in place. */
export interface FusedAddon {
  rmsNorm(x: Float32Array, w: Float32Array, y: Float32Array, rstd: Float32Array, N: number, D: number, eps: number): void;
  rmsNormGrad(x: Float32Array, w: Float32Array, rstd: Float32Array, dy: Float32Array, dx: Float32Array, dw: Float32Array, N: number, D: number): void;
  swiglu(g: Float32Array, u: Float32Array, y: Float32Array, n: number): void;
  swigluGrad(g: Float32Array, u: Float32Array, dy: Float32Array, dg: Float32Array, du: Float32Array, n: number): void;
  crossEntropy(logits: Float32Array, targets: Int32Array, mask: Float32Array, lse: Float32Array, loss: Float32Array, N: number, V: number): void;
  crossEntropyGrad(logits: Float32Array, targets: Int32Array, mask: Float32Array, lse: Float32Array, dlogits: Float32Array, N: number, V: number, scale: number): void;
  attention(q: Float32Array, k: Float32Array, v: Float32Array, cos: Float32Array, sin: Float32Array, o: Float32Array, lse: Float32Array,
    B: number, T: number, H: number, Hkv: number, Dh: number, ropeStyle: number): void;
  attentionGrad(q: Float32Array, k: Float32Array, v: Float32Array, cos: Float32Array, sin: Float32Array, o: Float32Array, lse: Float32Array, dout: Float32Array,
    dq: Float32Array, dk: Float32Array, dv: Float32Array, B: number, T: number, H: number, Hkv: number, Dh: number, ropeStyle: number): void;
  /** y = a + b over n values, on the pool. */
  add(a: Float32Array, b: Float32Array, y: Float32Array, n: number): void;
  /** Adam/AdamW in place over n values, adamRange's arithmetic (src/runtime/optim/adam_kernel.ts) in float32, on the pool. */
  adam(params: Float32Array, grads: Float32Array, m: Float32Array, v: Float32Array, n: number,
    b1: number, b2: number, eps: number, stepSize: number, sqrtC2: number, l2: number, keep: number): void;
}

export interface NativeStatus {
  readonly kernels: NativeKernels | null;
  /** Why it is live or not: 'loaded native/build/ds_native.node', 'disabled by DS_NATIVE=0', … */
  readonly why: string;
}

interface Addon extends FusedAddon {
  isa(): string;
  setThreads(n: number): number;
  sgemm(a: Float32Array, b: Float32Array, c: Float32Array, batch: number, M: number, N: number, K: number,
    transA: number, transB: number, strideA: number, strideB: number, strideC: number, accumulate: number): void;
}

export const ADDON_PATH = fileURLToPath(new URL('../../../native/build/ds_native.node', import.meta.url));

/**
 * Threads for a rank's native kernels: DS_NUM_THREADS when set, else the cores this process may
 * use shared among the ranks the launcher put on this node (LOCAL_SIZE).
 */
export function nativeThreadCount(env: Readonly<Record<string, string | undefined>>, cores = os.availableParallelism()): number {
  const given = env.DS_NUM_THREADS;
  if (given !== undefined && given !== '') {
    const n = Number(given);
    if (!Number.isInteger(n) || n < 1) throw new DeepscaleError('backend_error', `DS_NUM_THREADS must be a positive integer (threads for the native kernels), got "${given}"`);
    return n;
  }
  const localRanks = Math.max(1, Number(env.LOCAL_SIZE) || 1);
  return Math.max(1, Math.floor(cores / localRanks));
}

/** Loads the addon and registers its fused kernels on the wasm backend. `enabled` false (DS_NATIVE=0) keeps the wasm kernels. */
export function loadNative(opts: { enabled: boolean; threads: number }): NativeStatus {
  if (!opts.enabled) return { kernels: null, why: 'disabled by DS_NATIVE=0' };
  if (!existsSync(ADDON_PATH)) return { kernels: null, why: 'not built (no C compiler at install; `node scripts/build_native.mjs` builds it)' };
  let addon: Addon;
  try {
    addon = createRequire(import.meta.url)(ADDON_PATH) as Addon;
  } catch (err) {
    return { kernels: null, why: `failed to load ${ADDON_PATH}: ${(err as Error).message.split('\n')[0]}` };
  }
  if (typeof addon.setThreads !== 'function' || typeof addon.attention !== 'function') {
    return { kernels: null, why: `${ADDON_PATH} is from an older build (run \`node scripts/build_native.mjs\`)` };
  }
  const threads = addon.setThreads(opts.threads);
  const isa = addon.isa();
  const short = threads < opts.threads ? ` of ${opts.threads} asked (the rest could not start)` : '';
  const kernels: NativeKernels = {
    isa,
    threads,
    sgemm: (a, b, c, batch, M, N, K, ta, tb, sa, sb, sc, acc = false) => addon.sgemm(a, b, c, batch, M, N, K, ta ? 1 : 0, tb ? 1 : 0, sa, sb, sc, acc ? 1 : 0),
    fused: addon,
  };
  // The fused kernels as wasm-backend kernels (loadNative runs once the wasm backend is ready).
  registerNativeKernels(kernels);
  return { why: `loaded native/build/ds_native.node (${isa}, ${threads} threads${short})`, kernels };
}
