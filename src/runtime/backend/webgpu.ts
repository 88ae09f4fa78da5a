/**
 * The `webgpu` training backend: tfjs's `@tensorflow/tfjs-backend-webgpu` on a WebGPU device that
 * the optional `webgpu` npm package (Dawn's Node bindings) gives Node. Node has no
 * `navigator.gpu` and no GPUBufferUsage/GPUMapMode/GPUShaderStage globals: they are installed
 * here, once, before tfjs-backend-webgpu is imported (it registers its backend only if it sees
 * them at import). Software adapters (lavapipe, SwiftShader) are accepted, since this backend is
 * only ever forced: they are correct and slow, and what CI runs on.
 *
 * tfjs-backend-webgpu reads a tensor synchronously (dataSync) only where it has its values on the
 * CPU already; otherwise it needs OffscreenCanvas, which Node lacks. Everything deepscale reads
 * in training on this backend is awaited (`t.data()`), see readTensor in the engine's executor.
 */
import * as tf from '@tensorflow/tfjs-core';
import { loadGpu, NO_ADAPTER, summarize, type AdapterSummary } from '../../inference/runner/webgpu/gpu.ts';
import { registerWebgpuKernels } from './kernels/webgpu_index.ts';

/** The adapter the live webgpu backend computes on, for `ds report` and the start-up log. */
let liveAdapter: AdapterSummary | null = null;

export function webgpuAdapter(): AdapterSummary | null {
  return liveAdapter;
}

/** Gives Node what a browser has: navigator.gpu and the GPU* flag objects, from the `webgpu` package. */
async function installNavigatorGpu(): Promise<{ gpu: GPU } | { reason: string }> {
  const probe = await loadGpu();
  if (!probe.ok) return { reason: probe.reason };
  const g = globalThis as Record<string, unknown>;
  const mod = (await import('webgpu')) as unknown as { globals: Record<string, unknown> };
  for (const [k, v] of Object.entries(mod.globals)) if (g[k] === undefined) g[k] = v;
  // Node 20 has no navigator; Node 21+ has one without gpu.
  if (g.navigator === undefined) g.navigator = {};
  const nav = g.navigator as { gpu?: GPU };
  if (nav.gpu === undefined) Object.defineProperty(nav, 'gpu', { value: probe.api.gpu, configurable: true });
  return { gpu: nav.gpu ?? probe.api.gpu };
}

/** Loads and selects the webgpu backend; null when live, else why not (package, adapter, device). */
export async function tryWebgpu(): Promise<string | null> {
  try {
    const nav = await installNavigatorGpu();
    if ('reason' in nav) return nav.reason;
    const adapter = await nav.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
    if (!adapter) return NO_ADAPTER;
    const summary = summarize(adapter);
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!tf.findBackendFactory('webgpu')) return 'tfjs-backend-webgpu did not register its backend (it saw no navigator.gpu)';
    if (!(await tf.setBackend('webgpu'))) return `the webgpu backend did not initialize on ${summary.description || summary.device || summary.vendor}`;
    registerWebgpuKernels();
    liveAdapter = summary;
    return null;
  } catch (err) {
    const msg = (err as Error).message.split('\n')[0] ?? String(err);
    return /Cannot find (module|package)/.test(msg) ? `@tensorflow/tfjs-backend-webgpu is not installed: ${msg}` : `webgpu failed: ${msg}`;
  }
}

/** One line for `ds report` and the log: the adapter and whether it is a CPU emulation. */
export function describeAdapter(a: AdapterSummary): string {
  return `${a.description || a.device || a.vendor} (${a.software ? 'software: correct, not fast' : `hardware, ${a.vendor} ${a.architecture}`})`;
}

/** Why the automatic order (tensorflow → wasm → cpu) passes webgpu by. */
export const WEBGPU_NOT_AUTOMATIC =
  'not in the automatic order (its training speed against wasm is not measured on a hardware GPU yet): DS_BACKEND=webgpu or config "backend": "webgpu" selects it';

/** For `ds report`: whether training runs on webgpu in this process, and on what or why not. */
export interface WebgpuTrainingStatus {
  readonly live: boolean;
  readonly why: string;
  readonly adapter: AdapterSummary | null;
}

/** `notLive`: why initBackend passed webgpu by (its row in BackendInfo.tried). */
export async function webgpuTrainingStatus(liveBackend: string, notLive: string): Promise<WebgpuTrainingStatus> {
  if (liveBackend === 'webgpu' && liveAdapter) return { live: true, why: `live on ${describeAdapter(liveAdapter)}`, adapter: liveAdapter };
  const not = notLive;
  const probe = await loadGpu();
  if (!probe.ok) return { live: false, why: `${not}; and it could not run here: ${probe.reason}`, adapter: null };
  const adapter = await probe.api.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!adapter) return { live: false, why: `${not}; and it could not run here: ${NO_ADAPTER}`, adapter: null };
  const summary = summarize(adapter);
  return { live: false, why: `${not}; it would run on ${describeAdapter(summary)}`, adapter: summary };
}
