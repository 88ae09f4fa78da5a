/**
 * deepscale's own WebAssembly kernels (C sources beside their .wasm, built by
 * scripts/build_wasm.sh): compiled once per process, instantiated per thread over a runner's
 * SharedArena memory.
 */
import { readFileSync } from 'node:fs';
import { assert } from '../../errors.ts';

const compiled = new Map<string, WebAssembly.Module | null>();

/** The compiled module at `url`, or null where this runtime lacks what it needs (wasm SIMD, shared memory). */
export function kernelModule(url: URL): WebAssembly.Module | null {
  const key = url.href;
  if (!compiled.has(key)) {
    const bytes = readFileSync(url);
    compiled.set(key, typeof SharedArrayBuffer === 'function' && WebAssembly.validate(bytes) ? new WebAssembly.Module(bytes) : null);
  }
  return compiled.get(key) ?? null;
}

/** The exports of a kernel module instantiated over `memory`; a clear error where it cannot run. */
export function instantiateKernel(url: URL, memory: WebAssembly.Memory): Record<string, unknown> {
  const mod = kernelModule(url);
  assert(mod !== null, () => `${url.pathname.split('/').pop()}: this runtime cannot run deepscale's wasm kernels (they need WebAssembly SIMD and shared memory, as in Node ≥ 20)`);
  return new WebAssembly.Instance(mod, { env: { memory } }).exports;
}
