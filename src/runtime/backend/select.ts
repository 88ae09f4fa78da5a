import { createRequire } from 'node:module';
import os from 'node:os';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs-core';
import '../tf_gradients.ts';
import { DeepscaleError } from '../../errors.ts';
import { registerGradients, registerWasmKernels } from './kernels/index.ts';
import { useNativeMatMul } from './kernels/batch_mat_mul_wasm.ts';
import { loadNative, nativeThreadCount, type NativeStatus } from './native.ts';
import { tryWebgpu, WEBGPU_NOT_AUTOMATIC } from './webgpu.ts';

export type BackendName = 'tensorflow' | 'webgpu' | 'wasm' | 'cpu';

export interface BackendAttempt {
  readonly name: string;
  readonly ok: boolean;
  readonly why: string;
}

export interface BackendInfo {
  readonly name: BackendName;
  readonly reason: string;
  readonly tried: readonly BackendAttempt[];
  readonly simd: boolean | null;
  readonly threads: number;
  /** deepscale's native addon (threaded AVX2+FMA sgemm) under the wasm backend's matmuls. */
  readonly native: { readonly live: boolean; readonly isa: string | null; readonly threads: number; readonly why: string };
  readonly versions: Readonly<Record<string, string>>;
}

const require = createRequire(import.meta.url);
let current: BackendInfo | null = null;
let wasmThreads = 1;
let nativeStatus: NativeStatus = { kernels: null, why: 'only under the wasm backend' };

function version(pkg: string): string {
  try {
    return (require(`${pkg}/package.json`) as { version: string }).version;
  } catch {
    return 'not installed';
  }
}

async function tryTensorflow(pkg: string): Promise<string | null> {
  try {
    await import(pkg);
    if (!(await tf.setBackend('tensorflow'))) return `${pkg} loaded but the 'tensorflow' backend did not initialize`;
    return null;
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? String(err);
    return /Cannot find (module|package)/.test(msg) ? `${pkg} is not installed (optional dependency)` : `${pkg} failed to load: ${msg}`;
  }
}

async function tryWasm(): Promise<string | null> {
  // A bad DS_NUM_THREADS is the user's error, not a reason to fall back to another backend.
  const nativeThreads = nativeThreadCount(process.env);
  try {
    const wasm = await import('@tensorflow/tfjs-backend-wasm');
    wasm.setWasmPaths(path.dirname(require.resolve('@tensorflow/tfjs-backend-wasm/package.json')) + '/dist/');
    if (!(await tf.setBackend('wasm'))) return 'the wasm backend did not initialize';
    registerWasmKernels();
    // DS_NATIVE=0 keeps XNNPACK (the baseline `ds bench train` compares against). DS_NUM_THREADS
    // sizes the native pool; else the ranks the launcher put on this node (LOCAL_SIZE) share its cores.
    nativeStatus = loadNative({ enabled: process.env.DS_NATIVE !== '0', threads: nativeThreads });
    useNativeMatMul(nativeStatus.kernels);
    // XNNPACK's thread pool as the module reports it: 1 under Node, where tfjs-wasm loads the
    // unthreaded SIMD build (its threaded build starts workers from blob: URLs, tfjs issue 3830).
    wasmThreads = wasm.getThreadsCount();
    return null;
  } catch (err) {
    return `wasm failed: ${(err as Error).message}`;
  }
}

async function tryCpu(): Promise<string | null> {
  await import('@tensorflow/tfjs-backend-cpu');
  return (await tf.setBackend('cpu')) ? null : 'the cpu backend did not initialize';
}

/**
 * Picks the tensor backend: tensorflow (tfjs-node-gpu, then tfjs-node) → wasm → cpu, or the one
 * `force` (or DS_BACKEND) names — then a failure is an error that says why. webgpu is taken only
 * when forced (WEBGPU_NOT_AUTOMATIC says why). Idempotent.
 */
export async function initBackend(opts: { force?: BackendName } = {}): Promise<BackendInfo> {
  const forced = opts.force ?? (process.env.DS_BACKEND as BackendName | undefined);
  if (forced && !['tensorflow', 'webgpu', 'wasm', 'cpu'].includes(forced)) throw new DeepscaleError('backend_error', `unknown backend '${forced}' (DS_BACKEND or config "backend"): use tensorflow, webgpu, wasm or cpu`);
  if (current) {
    if (forced && forced !== current.name) throw new DeepscaleError('backend_error', `backend '${forced}' was asked for, but '${current.name}' is already live in this process (${current.reason})`);
    return current;
  }
  registerGradients();
  const candidates: [string, BackendName, () => Promise<string | null>][] = [
    ['tensorflow (tfjs-node-gpu)', 'tensorflow', () => tryTensorflow('@tensorflow/tfjs-node-gpu')],
    ['tensorflow (tfjs-node)', 'tensorflow', () => tryTensorflow('@tensorflow/tfjs-node')],
    ['webgpu', 'webgpu', tryWebgpu],
    ['wasm', 'wasm', tryWasm],
    ['cpu', 'cpu', tryCpu],
  ];
  const tried: BackendAttempt[] = [];
  for (const [label, name, attempt] of candidates) {
    if (forced && name !== forced) {
      tried.push({ name: label, ok: false, why: `skipped: backend forced to ${forced}` });
      continue;
    }
    if (!forced && name === 'webgpu') {
      tried.push({ name: label, ok: false, why: WEBGPU_NOT_AUTOMATIC });
      continue;
    }
    const why = await attempt();
    tried.push({ name: label, ok: why === null, why: why ?? 'selected' });
    if (why === null) {
      const simd = name === 'wasm' ? Boolean(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) : null;
      current = {
        name,
        reason: forced ? `forced by ${opts.force ? 'config "backend"' : 'DS_BACKEND'}` : 'first available in order tensorflow → wasm → cpu',
        tried,
        simd,
        // libtensorflow sizes its intra-op pool to the cores; tfjs-backend-cpu runs on the JS thread.
        threads: name === 'wasm' ? nativeStatus.kernels?.threads ?? wasmThreads : name === 'tensorflow' ? os.availableParallelism() : 1,
        native: { live: nativeStatus.kernels !== null, isa: nativeStatus.kernels?.isa ?? null, threads: nativeStatus.kernels?.threads ?? 0, why: name === 'wasm' ? nativeStatus.why : 'only under the wasm backend' },
        versions: {
          node: process.versions.node,
          '@tensorflow/tfjs-core': version('@tensorflow/tfjs-core'),
          '@tensorflow/tfjs-backend-wasm': version('@tensorflow/tfjs-backend-wasm'),
          '@tensorflow/tfjs-backend-cpu': version('@tensorflow/tfjs-backend-cpu'),
          '@tensorflow/tfjs-backend-webgpu': version('@tensorflow/tfjs-backend-webgpu'),
          '@tensorflow/tfjs-node': version('@tensorflow/tfjs-node'),
          '@tensorflow/tfjs-node-gpu': version('@tensorflow/tfjs-node-gpu'),
        },
      };
      return current;
    }
  }
  if (forced) {
    const whys = tried.filter((t) => !t.why.startsWith('skipped')).map((t) => `${t.name}: ${t.why}`);
    throw new DeepscaleError('backend_error', `backend '${forced}' was forced but cannot load: ${whys.join('; ')}`);
  }
  throw new DeepscaleError('backend_error', `no tensor backend could load: ${tried.map((t) => `${t.name}: ${t.why}`).join('; ')}`);
}
