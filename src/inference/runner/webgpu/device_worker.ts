/// <reference types="@webgpu/types" />
/**
 * The device thread of a WebGpuRunner (see protocol.ts): owns the GPUDevice, the weights, the
 * KV pools and the step's buffers; runs one request at a time, in order.
 */
import { workerData, type MessagePort } from 'node:worker_threads';
import { ropeInvFreqs } from '../../../models/rope_scaling.ts';
import { loadGpu, pickAdapter, type GpuGlobals } from './gpu.ts';
import { GpuKvPools } from './gpu_cache.ts';
import { GpuForward } from './gpu_forward.ts';
import { GpuDeviceError, GpuWeightStore } from './gpu_weights.ts';
import { DONE, EXITED, type DeviceReply, type DeviceRequest, type InitRequest } from './protocol.ts';

const { port, ctrl } = workerData as { port: MessagePort; ctrl: Int32Array };

interface State {
  device: GPUDevice;
  g: GpuGlobals;
  init: InitRequest;
  weights: GpuWeightStore;
  pools: GpuKvPools;
  rope: GPUBuffer;
  maxBinding: number;
  forward: GpuForward | null;
}

let state: State | null = null;
/** Why the device went away (null while it works). */
let lost: string | null = null;
let stopping = false;
let chain: Promise<void> = Promise.resolve();
let current = 0;

function reply(r: DeviceReply): void {
  port.postMessage(r);
  Atomics.store(ctrl, DONE, r.job);
  Atomics.notify(ctrl, DONE);
}

async function init(req: InitRequest): Promise<DeviceReply & { ok: true }> {
  const probe = await loadGpu();
  if (!probe.ok) throw new GpuDeviceError(probe.reason);
  const picked = await pickAdapter(req.allowSoftware);
  if (picked.adapter === null) throw new GpuDeviceError(picked.reason);
  const { adapter, summary } = picked;
  // The defaults (128 MiB bindings, 256 MiB buffers) are below what most adapters allow: ask for theirs.
  const device = await adapter.requestDevice({
    requiredLimits: { maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize, maxBufferSize: adapter.limits.maxBufferSize },
  });
  void device.lost.then((info) => {
    if (!stopping) lost = `the WebGPU device was lost (${info.reason}): ${info.message || 'no message'}`;
  });
  const g = probe.api.globals;
  const maxBinding = Math.min(device.limits.maxStorageBufferBindingSize, device.limits.maxBufferSize, req.maxBindingBytes ?? Infinity);
  device.pushErrorScope('out-of-memory');
  const weights = new GpuWeightStore(device, g, maxBinding);
  const pools = new GpuKvPools(device, g, req.pools, maxBinding);
  // cos, then sin, of every position's angle per rope pair: [2, maxModelLen, Dh/2] (float64 angles, as the wasm runner's table)
  const half = req.config.headDim / 2;
  const inv = ropeInvFreqs(req.config);
  const table = new Float32Array(2 * req.maxModelLen * half);
  for (let p = 0; p < req.maxModelLen; p++) {
    for (let j = 0; j < half; j++) {
      table[p * half + j] = Math.cos(p * inv[j]!);
      table[(req.maxModelLen + p) * half + j] = Math.sin(p * inv[j]!);
    }
  }
  const rope = weights.upload(new Uint8Array(table.buffer), 'rope');
  const oom = await device.popErrorScope();
  if (oom) throw new GpuDeviceError(`could not allocate the KV cache (${pools.bytes} B) on ${summary.description}: ${oom.message}; lower --kv-cache-memory`);
  state = { device, g, init: req, weights, pools, rope, maxBinding, forward: null };
  return { job: 0, ok: true, adapter: summary };
}

function live(): State {
  if (lost) throw new GpuDeviceError(lost);
  if (!state) throw new GpuDeviceError('the WebGPU runner is not initialized');
  return state;
}

async function handle(job: number, req: DeviceRequest): Promise<DeviceReply> {
  switch (req.kind) {
    case 'init':
      return { ...(await init(req)), job };
    case 'tensor': {
      const s = live();
      s.device.pushErrorScope('out-of-memory');
      s.weights.put(req.tensor);
      const oom = await s.device.popErrorScope();
      if (oom) throw new GpuDeviceError(`could not allocate ${req.tensor.name} (${req.tensor.bytes.length} B, ${s.weights.bytes} B placed so far): ${oom.message}`);
      return { job, ok: true };
    }
    case 'build': {
      const s = live();
      s.forward = new GpuForward(s.device, s.g, s.init.config, s.weights, s.pools, s.rope, s.maxBinding);
      s.device.pushErrorScope('out-of-memory');
      s.forward.reserve(req.maxRows);
      const oom = await s.device.popErrorScope();
      if (oom) throw new GpuDeviceError(`could not allocate the activations of ${req.maxRows}-token steps: ${oom.message}; lower --max-num-batched-tokens`);
      return { job, ok: true, gpuBytes: s.weights.bytes + s.pools.bytes };
    }
    case 'cacheOps':
      await live().pools.apply(req.ops);
      if (lost) throw new GpuDeviceError(lost);
      return { job, ok: true };
    case 'execute': {
      const s = live();
      if (!s.forward) throw new GpuDeviceError('the WebGPU runner has no model yet');
      const logits = await s.forward.run(req.batch);
      if (lost) throw new GpuDeviceError(lost);
      return { job, ok: true, logits };
    }
    case 'lose':
      live().device.destroy();
      lost = 'the WebGPU device was lost (destroyed): as asked (a drill)';
      return { job, ok: true };
    case 'stop':
      stopping = true;
      if (state) {
        state.forward?.destroy();
        state.pools.destroy();
        state.weights.destroy();
        state.device.destroy();
      }
      state = null;
      return { job, ok: true };
  }
}

function failure(job: number, e: unknown): DeviceReply {
  const message = lost ?? (e instanceof Error ? e.message : String(e));
  return { job, ok: false, error: message, device: lost !== null || e instanceof GpuDeviceError };
}

port.on('message', (msg: { job: number } & DeviceRequest) => {
  chain = chain.then(async () => {
    current = msg.job;
    let r: DeviceReply;
    try {
      r = await handle(msg.job, msg);
    } catch (e) {
      r = failure(msg.job, e);
    }
    reply(r);
    if (msg.kind === 'stop') port.close();
  });
});

// An error nothing awaited (a Dawn callback) still answers the job in flight, so the main thread never waits for nothing.
process.on('uncaughtException', (e) => reply(failure(current, e)));
// However the thread ends, the main thread stops waiting on it (a call sees EXITED at once).
process.on('exit', () => {
  Atomics.store(ctrl, DONE, EXITED);
  Atomics.notify(ctrl, DONE);
});
process.on('unhandledRejection', (e) => reply(failure(current, e)));
