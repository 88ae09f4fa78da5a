/**
 * The model runner on WebGPU: the same contract as the wasm ModelRunner (Runner), with the
 * weights in their stored bytes, the KV block pool and the activations in GPU buffers, and WGSL
 * kernels (wgsl/). The GPUDevice lives on a device thread (protocol.ts) so that execute() stays
 * synchronous, as the engine's step is. A lost device, a failed allocation or a step that does
 * not finish fails the call with a GpuDeviceError; every later call fails with the same error.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { assert, ConfigError, FormatError } from '../../../errors.ts';
import { log } from '../../../runtime/logger.ts';
import { modelExtras } from '../../../models/types.ts';
import { expectedLlamaShapes } from '../../loaders/check_weights.ts';
import type { HostTensor } from '../../loaders/types.ts';
import { tensorType } from '../../loaders/gguf/tensor_types.ts';
import type { SchedulerOutput } from '../../scheduler/output.ts';
import type { RunnerBatch } from '../batch.ts';
import type { ModelRunnerOptions, RunnerModel } from '../model_runner.ts';
import type { Runner } from '../types.ts';
import type { AdapterSummary } from './gpu.ts';
import { GpuDeviceError, type TensorMessage } from './gpu_weights.ts';
import { DONE, EXITED, type DeviceReply, type DeviceRequest } from './protocol.ts';
import { GPU_TYPES } from './wgsl/matmul.ts';

/** Atomics.waitAsync (Node ≥ 16; not in the ES2022 lib typings). */
const waitAsync = (Atomics as unknown as { waitAsync(a: Int32Array, i: number, v: number, ms: number): { async: boolean; value: 'ok' | 'not-equal' | 'timed-out' | Promise<'ok' | 'timed-out'> } }).waitAsync;

export interface WebGpuRunnerOptions extends ModelRunnerOptions {
  /** Run on a software adapter (llvmpipe/lavapipe) when it is the only one: tests and an explicit --device webgpu; `auto` never does. */
  readonly allowSoftware?: boolean;
  /**
   * The largest buffer bound to a kernel, below the adapter's own limit: matrices past it are split
   * by rows (some drivers allocate a large binding slowly or not at all; tests split small models).
   */
  readonly maxBindingBytes?: number;
  /** How long one call (a step, a swap) may take before the device is given up as hung. Default 300 s. */
  readonly stepTimeoutMs?: number;
}

const REGISTER = fileURLToPath(new URL('../../../../bin/register.js', import.meta.url));
const ENTRY = new URL('./device_worker_boot.mjs', import.meta.url);

/** Extras that go up fused or as they are by extraTensors(), not one message each. */
const isExtra = (name: string) => /\.bias$|\.q_norm\.|\.k_norm\./.test(name);

/** A tensor as the device thread takes it: stored bytes where a kernel reads its type, else float32. */
function toMessage(name: string, t: HostTensor): { msg: TensorMessage; widened: string | null } {
  const gpuType = t.stored && t.shape.length === 2 ? GPU_TYPES[t.stored.type] : undefined;
  if (t.stored && gpuType) return { msg: { name, shape: t.shape, type: gpuType, bytes: t.stored.bytes }, widened: null };
  const n = t.shape.reduce((a, b) => a * b, 1);
  const data = t.stored ? tensorType(t.stored.type).dequantize(t.stored.bytes, 0, n) : t.data;
  const widened = t.stored && t.shape.length === 2 ? tensorType(t.stored.type).name : null;
  return { msg: { name, shape: t.shape, type: 'F32', bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) }, widened };
}

/**
 * Architecture extras as float32 vectors: per layer the q/k/v biases concatenated in qkv's
 * column order [(H + 2·Hkv)·Dh] (qwen2), and the q and k head norms [Dh] (qwen3).
 */
function* extraTensors(model: RunnerModel): Generator<TensorMessage> {
  const c = model.config;
  const ex = modelExtras(c);
  const dense = (name: string, len: number): Float32Array => {
    const t = model.weights.get(name);
    if (!t) throw new FormatError(model.source, `weight ${name} is missing`);
    if (t.shape.length !== 1 || t.shape[0] !== len) throw new FormatError(model.source, `weight ${name} has shape [${t.shape.join(', ')}], expected [${len}]`);
    return t.stored ? tensorType(t.stored.type).dequantize(t.stored.bytes, 0, len) : t.data;
  };
  const vec = (name: string, data: Float32Array): TensorMessage => ({ name, shape: [data.length], type: 'F32', bytes: new Uint8Array(data.buffer, data.byteOffset, data.byteLength) });
  const { numHeads: H, numKvHeads: Hkv, headDim: Dh } = c;
  for (let l = 0; l < c.numLayers; l++) {
    const p = `model.layers.${l}.self_attn.`;
    if (ex.attentionBias) {
      const b = new Float32Array((H + 2 * Hkv) * Dh);
      b.set(dense(`${p}q_proj.bias`, H * Dh), 0);
      b.set(dense(`${p}k_proj.bias`, Hkv * Dh), H * Dh);
      b.set(dense(`${p}v_proj.bias`, Hkv * Dh), (H + Hkv) * Dh);
      yield vec(`${p}qkv_bias`, b);
    }
    if (ex.qkNorm) {
      yield vec(`${p}q_norm.weight`, dense(`${p}q_norm.weight`, Dh));
      yield vec(`${p}k_norm.weight`, dense(`${p}k_norm.weight`, Dh));
    }
  }
}

export class WebGpuRunner implements Runner {
  readonly numBlocks: number;
  readonly blockSize: number;
  readonly numThreads = 1;
  readonly device: string;
  readonly adapter: AdapterSummary;
  /** GPU bytes of the weights and the KV pools. */
  gpuBytes = 0;
  private readonly hostBlocks: number;
  private job = 0;
  private failed: GpuDeviceError | null = null;

  private constructor(private readonly worker: Worker, private readonly port: MessagePort, private readonly ctrl: Int32Array, opts: WebGpuRunnerOptions, adapter: AdapterSummary, private readonly timeoutMs: number) {
    this.numBlocks = opts.numBlocks;
    this.blockSize = opts.blockSize;
    this.hostBlocks = opts.numHostBlocks ?? 0;
    this.adapter = adapter;
    this.device = `webgpu (${adapter.description}${adapter.software ? ', software' : ''})`;
  }

  /** Starts the device thread, places the model one tensor at a time (the event loop keeps turning). */
  static async create(model: RunnerModel, opts: WebGpuRunnerOptions): Promise<WebGpuRunner> {
    const c = model.config;
    const maxModelLen = opts.maxModelLen ?? c.maxPositionEmbeddings;
    if (maxModelLen > c.maxPositionEmbeddings) throw new ConfigError('maxModelLen', `${maxModelLen} exceeds the model's context of ${c.maxPositionEmbeddings}`);
    if ((opts.threads ?? 1) !== 1) throw new ConfigError('threads', `${opts.threads} host threads asked for, but the webgpu runner runs the model on the device; --threads applies to --device cpu`);
    const shapes = expectedLlamaShapes(c);
    // a tied model that still carries an LM head runs it, as the wasm runner does
    if (model.weights.has('lm_head.weight')) shapes.set('lm_head.weight', [c.vocabSize, c.hiddenSize]);
    for (const [name, shape] of shapes) {
      const t = model.weights.get(name);
      if (!t) throw new FormatError(model.source, `weight ${name} is missing`);
      if (t.shape.join() !== shape.join()) throw new FormatError(model.source, `weight ${name} has shape [${t.shape.join(', ')}], expected [${shape.join(', ')}]`);
    }
    const ctrl = new Int32Array(new SharedArrayBuffer(4));
    const { port1, port2 } = new MessageChannel();
    const worker = new Worker(ENTRY, { workerData: { ctrl, port: port2 }, transferList: [port2], execArgv: ['--import', REGISTER] });
    worker.on('error', () => {}); // answered through the control word; kept so a dying thread is not an uncaught error
    const timeoutMs = opts.stepTimeoutMs ?? 300_000;
    const pools = { numLayers: c.numLayers, numBlocks: opts.numBlocks, numHostBlocks: opts.numHostBlocks ?? 0, blockSize: opts.blockSize, numKvHeads: c.numKvHeads, headDim: c.headDim };
    let job = 0;
    const call = async (req: DeviceRequest): Promise<DeviceReply & { ok: true }> => {
      const n = ++job;
      port1.postMessage({ job: n, ...req });
      while (Atomics.load(ctrl, DONE) !== n) {
        if (Atomics.load(ctrl, DONE) === EXITED) throw new GpuDeviceError(`the WebGPU device thread ended during '${req.kind}'`);
        const r = waitAsync(ctrl, DONE, Atomics.load(ctrl, DONE), timeoutMs);
        if ((await r.value) === 'timed-out') throw new GpuDeviceError(`the WebGPU device thread did not answer '${req.kind}' within ${timeoutMs} ms`);
      }
      const reply = receiveMessageOnPort(port1)?.message as DeviceReply | undefined;
      assert(reply && reply.job === n, `WebGpuRunner: no reply to job ${n}`);
      if (!reply.ok) throw new GpuDeviceError(reply.error);
      return reply;
    };
    try {
      const init = await call({ kind: 'init', config: c, maxModelLen, pools, allowSoftware: opts.allowSoftware ?? false, maxBindingBytes: opts.maxBindingBytes ?? null });
      const adapter = init.adapter!;
      const widened: string[] = [];
      for (const name of [...shapes.keys()].filter((n) => !isExtra(n))) {
        const { msg, widened: w } = toMessage(name, model.weights.get(name)!);
        if (w) widened.push(`${name} (${w})`);
        await call({ kind: 'tensor', tensor: msg });
      }
      for (const tensor of extraTensors(model)) await call({ kind: 'tensor', tensor });
      if (widened.length > 0) log.warn(`webgpu: no WGSL kernel reads ${widened.length} tensor(s) in their stored type, widened to float32: ${widened.slice(0, 4).join(', ')}${widened.length > 4 ? ', …' : ''}`);
      const built = await call({ kind: 'build', maxRows: opts.maxNumBatchedTokens ?? 2048 });
      // Held while loading (Atomics.waitAsync holds no handle); afterwards calls wait synchronously, and an idle runner must not keep the process alive.
      worker.unref();
      const runner = new WebGpuRunner(worker, port1, ctrl, opts, adapter, timeoutMs);
      runner.job = job;
      runner.gpuBytes = built.gpuBytes ?? 0;
      log.info(`webgpu runner on ${adapter.description}${adapter.software ? ' (a software adapter: a CPU emulation, for correctness only)' : ''}: ${(runner.gpuBytes / 2 ** 20).toFixed(1)} MiB of weights and KV cache on the device`);
      return runner;
    } catch (e) {
      void worker.terminate();
      throw e;
    }
  }

  applyCacheOps(out: Pick<SchedulerOutput, 'swappedOut' | 'swappedIn' | 'blockCopies'>): void {
    if (out.swappedOut.length + out.swappedIn.length > 0) assert(this.hostBlocks > 0, 'WebGpuRunner: swap requested but no host blocks were configured');
    if (out.swappedOut.length + out.swappedIn.length + out.blockCopies.length === 0) return;
    this.call({ kind: 'cacheOps', ops: { swappedOut: out.swappedOut, swappedIn: out.swappedIn, blockCopies: out.blockCopies } });
  }

  execute(batch: RunnerBatch): Float32Array {
    return this.call({ kind: 'execute', batch }).logits!;
  }

  /** Destroys the device as a driver reset would: every later call fails (a drill of the lost-device path). */
  loseDevice(): void {
    this.call({ kind: 'lose' });
  }

  dispose(): void {
    if (!this.failed) {
      try {
        this.call({ kind: 'stop' });
      } catch {
        // the device is gone already; the thread goes with terminate()
      }
    }
    this.failed ??= new GpuDeviceError('the WebGPU runner was disposed');
    void this.worker.terminate();
  }

  /** One request to the device thread, waited for synchronously; a device failure sticks. */
  private call(req: DeviceRequest): DeviceReply & { ok: true } {
    if (this.failed) throw this.failed;
    const n = ++this.job;
    this.port.postMessage({ job: n, ...req });
    const deadline = performance.now() + this.timeoutMs;
    for (let seen = Atomics.load(this.ctrl, DONE); seen !== n; seen = Atomics.load(this.ctrl, DONE)) {
      if (seen === EXITED) throw (this.failed = new GpuDeviceError(`the WebGPU device thread ended during '${req.kind}'`));
      const left = deadline - performance.now();
      if (left <= 0) {
        this.failed = new GpuDeviceError(`the WebGPU device did not finish '${req.kind}' within ${this.timeoutMs} ms; the runner is stopped`);
        void this.worker.terminate();
        throw this.failed;
      }
      Atomics.wait(this.ctrl, DONE, seen, left);
    }
    const reply = receiveMessageOnPort(this.port)?.message as DeviceReply | undefined;
    assert(reply && reply.job === n, `WebGpuRunner: no reply to job ${n}`);
    if (reply.ok) return reply;
    if (!reply.device) throw new Error(reply.error); // a broken invariant (a bad batch): this call only
    throw (this.failed = new GpuDeviceError(reply.error));
  }
}
