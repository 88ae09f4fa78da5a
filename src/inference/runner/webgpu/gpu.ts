/// <reference types="@webgpu/types" />
/**
 * Access to WebGPU from Node: the optional `webgpu` npm package (Dawn's Node bindings, the binary
 * inside the package) gives a `navigator.gpu`. Everything here says why when there is no GPU to
 * be had (package missing, no adapter: on Linux a Vulkan driver, e.g. Mesa's lavapipe from
 * bookworm-backports, is needed), so that callers can report it or skip with that reason.
 */

/** GPUBufferUsage / GPUMapMode / GPUShaderStage as the package gives them (Node has no such globals). */
export interface GpuGlobals {
  readonly GPUBufferUsage: Readonly<Record<'MAP_READ' | 'COPY_SRC' | 'COPY_DST' | 'UNIFORM' | 'STORAGE', number>>;
  readonly GPUMapMode: Readonly<Record<'READ' | 'WRITE', number>>;
}

export interface GpuApi {
  readonly gpu: GPU;
  readonly globals: GpuGlobals;
}

/** What `ds report` shows of an adapter, and what --device auto decides on. */
export interface AdapterSummary {
  readonly vendor: string;
  readonly architecture: string;
  readonly device: string;
  readonly description: string;
  /** A CPU emulation (llvmpipe/lavapipe, SwiftShader, a fallback adapter): correct, never fast. */
  readonly software: boolean;
  readonly maxBufferSize: number;
  readonly maxStorageBufferBindingSize: number;
  readonly shaderF16: boolean;
}

/** The package or the adapter could not be had; `reason` says which and what to install. */
export type GpuProbe = { ok: true; api: GpuApi } | { ok: false; reason: string };

let cached: Promise<GpuProbe> | null = null;

/** Loads the `webgpu` package once per thread (Dawn's instance lives as long as this module). */
export function loadGpu(): Promise<GpuProbe> {
  cached ??= (async (): Promise<GpuProbe> => {
    try {
      const mod = (await import('webgpu')) as unknown as { create: (opts: string[]) => GPU; globals: GpuGlobals };
      return { ok: true, api: { gpu: mod.create([]), globals: mod.globals } };
    } catch (e) {
      return { ok: false, reason: `the optional 'webgpu' npm package could not be loaded (${e instanceof Error ? e.message.split('\n')[0] : String(e)}); npm install webgpu` };
    }
  })();
  return cached;
}

const SOFTWARE = /llvmpipe|lavapipe|swiftshader|softpipe|warp|basic render/i;

export function summarize(adapter: GPUAdapter): AdapterSummary {
  const i = adapter.info as GPUAdapterInfo & { isFallbackAdapter?: boolean };
  const fallback = i.isFallbackAdapter === true || (adapter as { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  return {
    vendor: i.vendor,
    architecture: i.architecture,
    device: i.device,
    description: i.description,
    software: fallback || i.architecture === 'software' || SOFTWARE.test(`${i.device} ${i.description}`),
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    shaderF16: adapter.features.has('shader-f16'),
  };
}

/**
 * The adapters WebGPU offers (one per power preference; Dawn picks the discrete GPU for
 * 'high-performance'), without duplicates; or why there are none.
 */
export async function listAdapters(): Promise<{ adapters: AdapterSummary[]; reason: string | null }> {
  const probe = await loadGpu();
  if (!probe.ok) return { adapters: [], reason: probe.reason };
  const seen = new Map<string, AdapterSummary>();
  for (const powerPreference of ['high-performance', 'low-power'] as const) {
    const a = await probe.api.gpu.requestAdapter({ powerPreference }).catch(() => null);
    if (!a) continue;
    const s = summarize(a);
    seen.set(`${s.vendor}|${s.device}|${s.description}`, s);
  }
  const adapters = [...seen.values()];
  return { adapters, reason: adapters.length > 0 ? null : NO_ADAPTER };
}

export const NO_ADAPTER =
  'WebGPU found no adapter: no GPU driver Dawn can use (on Linux: a Vulkan driver; for a software one, apt-get install -t bookworm-backports mesa-vulkan-drivers)';

/** The adapter a runner uses: a hardware one if there is one (unless `allowSoftware`), else null with the reason. */
export async function pickAdapter(allowSoftware: boolean): Promise<{ adapter: GPUAdapter; summary: AdapterSummary } | { adapter: null; reason: string }> {
  const probe = await loadGpu();
  if (!probe.ok) return { adapter: null, reason: probe.reason };
  const a = await probe.api.gpu.requestAdapter({ powerPreference: 'high-performance' }).catch(() => null);
  if (!a) return { adapter: null, reason: NO_ADAPTER };
  const summary = summarize(a);
  if (summary.software && !allowSoftware) return { adapter: null, reason: `the only WebGPU adapter is a software one (${summary.description}): a CPU emulation, slower than the cpu runner` };
  return { adapter: a, summary };
}
