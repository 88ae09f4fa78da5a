/**
 * `--device cpu|webgpu|auto`: which runner serves, decided once at the edge.
 *   cpu     the wasm ModelRunner
 *   webgpu  the WebGpuRunner on the first adapter, a software one (llvmpipe) included, with a warning
 *   auto    the WebGpuRunner on a hardware adapter if there is one, else the wasm runner (a software
 *           adapter is a CPU emulation, slower than the wasm kernels, so auto never picks it)
 */
import { createRequire } from 'node:module';
import { ConfigError } from '../../errors.ts';
import { log } from '../../runtime/logger.ts';
import { ModelRunner } from './model_runner.ts';
import type { RunnerFactory } from './types.ts';
import type { AdapterSummary } from './webgpu/gpu.ts';

export const DEVICES = ['cpu', 'webgpu', 'auto'] as const;
export type DeviceName = (typeof DEVICES)[number];

export interface DeviceChoice {
  readonly device: 'cpu' | 'webgpu';
  /** Why this one (and, for auto on the cpu, why not the GPU). */
  readonly reason: string;
  readonly makeRunner: RunnerFactory;
}

const cpuRunner: RunnerFactory = (m, o) => ModelRunner.create(m, o);

export async function chooseDevice(name: string): Promise<DeviceChoice> {
  if (!(DEVICES as readonly string[]).includes(name)) throw new ConfigError('device', `'${name}' is not one of ${DEVICES.join(', ')}`);
  if (name === 'cpu') return { device: 'cpu', reason: 'asked for (--device cpu)', makeRunner: cpuRunner };
  // Loaded only when a GPU is considered: the webgpu package is an optional dependency.
  const { pickAdapter } = await import('./webgpu/gpu.ts');
  const { WebGpuRunner } = await import('./webgpu/webgpu_runner.ts');
  const allowSoftware = name === 'webgpu';
  const picked = await pickAdapter(allowSoftware);
  if (picked.adapter === null) {
    if (name === 'webgpu') throw new ConfigError('device', `webgpu: ${picked.reason}`);
    return { device: 'cpu', reason: `auto: no hardware WebGPU adapter (${picked.reason})`, makeRunner: cpuRunner };
  }
  const s = picked.summary;
  if (s.software) log.warn(`--device webgpu: ${s.description} is a software adapter (a CPU emulation): correct, but slower than --device cpu`);
  return {
    device: 'webgpu',
    reason: `${name === 'auto' ? 'auto: ' : ''}${s.software ? 'software' : 'hardware'} adapter ${s.description} (${s.vendor}, ${s.architecture})`,
    makeRunner: (m, o) => WebGpuRunner.create(m, { ...o, allowSoftware }),
  };
}

/** What `ds report` shows of the serving devices: the WebGPU adapters, and what auto would pick and why. */
export interface DeviceReport {
  readonly adapters: readonly AdapterSummary[];
  /** Why there are none (package missing, no driver); null when some were found. */
  readonly reason: string | null;
  readonly auto: string;
  /** The `webgpu` npm package's version (Dawn's Node bindings), or 'not installed'. */
  readonly package: string;
}

export async function deviceReport(): Promise<DeviceReport> {
  const { listAdapters } = await import('./webgpu/gpu.ts');
  const { adapters, reason } = await listAdapters();
  const hw = adapters.find((a) => !a.software);
  const auto = hw
    ? `webgpu on ${hw.description}`
    : `cpu (${adapters.length > 0 ? 'the only WebGPU adapters are software ones (a CPU emulation); --device webgpu uses them anyway' : reason})`;
  let version = 'not installed';
  try {
    version = (createRequire(import.meta.url)('webgpu/package.json') as { version: string }).version;
  } catch {
    // an optional dependency: absent is a state to report, not an error
  }
  return { adapters, reason, auto, package: version };
}
