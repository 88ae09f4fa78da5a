import { createRequire } from 'node:module';
import os from 'node:os';
import { initBackend, type BackendAttempt, type BackendName } from './select.ts';
import { GRADIENTS, WASM_KERNELS } from './kernels/index.ts';
import { WEBGPU_KERNELS } from './kernels/webgpu_index.ts';
import { WEBGPU_NOT_AUTOMATIC, webgpuTrainingStatus, type WebgpuTrainingStatus } from './webgpu.ts';
import { NATIVE_FUSED_KERNELS } from './native_kernels.ts';

/** What `ds report` prints: the live backend, why the others are not, threads, versions. */
export interface BackendReport {
  readonly deepscale: string;
  readonly backend: BackendName;
  readonly reason: string;
  readonly tried: readonly BackendAttempt[];
  readonly simd: boolean | null;
  readonly threads: number;
  /** deepscale's native addon under the wasm matmuls: live or why not. */
  readonly native: { readonly live: boolean; readonly isa: string | null; readonly threads: number; readonly why: string };
  readonly cpus: number;
  readonly computeDtype: 'float32';
  /** Kernels and gradients deepscale registers on top of tfjs ('wasm:Einsum', 'grad:Einsum'). */
  readonly kernels: readonly { readonly kernel: string; readonly why: string }[];
  /** The webgpu training backend: live, or why not and what adapter it would have. */
  readonly webgpu: WebgpuTrainingStatus;
  readonly versions: Readonly<Record<string, string>>;
}

const require = createRequire(import.meta.url);

export async function buildBackendReport(): Promise<BackendReport> {
  const info = await initBackend();
  const deepscale = (require('../../../package.json') as { version: string }).version;
  const kernels = [
    ...(info.native.live ? [{ kernel: 'native:BatchMatMul', why: `wasm BatchMatMul on the native sgemm (${info.native.isa}, ${info.native.threads} threads)` }] : []),
    ...(info.native.live ? NATIVE_FUSED_KERNELS.map((k) => ({ kernel: `native:${k.kernel}`, why: `${k.why}, ${info.native.threads} threads` })) : []),
    ...(info.name === 'wasm' ? WASM_KERNELS.map((k) => ({ kernel: `wasm:${k.kernel}`, why: k.why })) : []),
    ...(info.name === 'webgpu' ? WEBGPU_KERNELS.map((k) => ({ kernel: `webgpu:${k.kernel}`, why: k.why })) : []),
    ...GRADIENTS.map((g) => ({ kernel: `grad:${g.kernel}`, why: g.why })),
  ];
  const webgpu = await webgpuTrainingStatus(info.name, info.tried.find((t) => t.name === 'webgpu')?.why ?? WEBGPU_NOT_AUTOMATIC);
  return {
    deepscale,
    backend: info.name,
    reason: info.name === 'webgpu' ? `${info.reason}; ${webgpu.why}` : info.reason,
    // The webgpu row says what it would run on, or why it could not.
    tried: info.tried.map((t) => (t.name === 'webgpu' && !t.ok ? { ...t, why: webgpu.why } : t)),
    simd: info.simd,
    threads: info.threads,
    native: info.native,
    cpus: os.availableParallelism(),
    computeDtype: 'float32',
    kernels,
    webgpu,
    versions: { deepscale, ...info.versions },
  };
}
