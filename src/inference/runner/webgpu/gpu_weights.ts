/// <reference types="@webgpu/types" />
/**
 * The model's weights in GPU buffers, in their stored bytes (F32, F16, Q8_0, Q4_K, Q6_K; the
 * kernels dequantize in registers). A matrix larger than one storage binding is split by rows
 * into parts, each its own buffer; a product runs once per part into its columns of the output.
 */
import { DeepscaleError } from '../../../errors.ts';
import type { GpuGlobals } from './gpu.ts';
import { rowBytes, type GpuWeightType } from './wgsl/matmul.ts';

/** A tensor as the main thread sends it: HF name, shape, and bytes in `type` (1-D ones are F32). */
export interface TensorMessage {
  readonly name: string;
  readonly shape: readonly number[];
  readonly type: GpuWeightType;
  readonly bytes: Uint8Array;
}

/** Rows r0 … r0 + rows − 1 of a [N, K] matrix. */
export interface MatrixPart {
  readonly buffer: GPUBuffer;
  readonly r0: number;
  readonly rows: number;
}

export interface GpuMatrix {
  readonly type: GpuWeightType;
  readonly N: number;
  readonly K: number;
  readonly rowBytes: number;
  readonly parts: readonly MatrixPart[];
}

/** A failed GPU allocation or a lost device: requests fail with it, the engine stops. */
export class GpuDeviceError extends DeepscaleError {
  constructor(message: string) {
    super('gpu_device_error', message);
  }
}

export class GpuWeightStore {
  readonly vectors = new Map<string, GPUBuffer>();
  readonly matrices = new Map<string, GpuMatrix>();
  bytes = 0;

  constructor(private readonly device: GPUDevice, private readonly g: GpuGlobals, private readonly maxBinding: number) {}

  /** A buffer holding `data` (padded to 4 bytes), usable as a storage binding. */
  upload(data: Uint8Array, label: string): GPUBuffer {
    const size = Math.max(4, Math.ceil(data.length / 4) * 4);
    if (size > this.maxBinding) throw new GpuDeviceError(`${label}: ${size} bytes exceed the adapter's max storage buffer binding of ${this.maxBinding}`);
    const buf = this.device.createBuffer({ label, size, usage: this.g.GPUBufferUsage.STORAGE | this.g.GPUBufferUsage.COPY_DST, mappedAtCreation: true });
    new Uint8Array(buf.getMappedRange()).set(data);
    buf.unmap();
    this.bytes += size;
    return buf;
  }

  put(t: TensorMessage): void {
    if (t.shape.length === 1) {
      this.vectors.set(t.name, this.upload(t.bytes, t.name));
      return;
    }
    const [N, K] = t.shape as [number, number];
    const rb = rowBytes(t.type, K);
    if (rb * N !== t.bytes.length) throw new GpuDeviceError(`${t.name}: ${t.bytes.length} bytes for [${N}, ${K}] ${t.type}, expected ${rb * N}`);
    const perPart = Math.max(1, Math.floor(this.maxBinding / rb));
    const parts: MatrixPart[] = [];
    for (let r0 = 0; r0 < N; r0 += perPart) {
      const rows = Math.min(perPart, N - r0);
      parts.push({ buffer: this.upload(t.bytes.subarray(r0 * rb, (r0 + rows) * rb), `${t.name}[${r0}:]`), r0, rows });
    }
    this.matrices.set(t.name, { type: t.type, N, K, rowBytes: rb, parts });
  }

  vector(name: string): GPUBuffer {
    const b = this.vectors.get(name);
    if (!b) throw new GpuDeviceError(`weight ${name} was not uploaded`);
    return b;
  }

  matrix(name: string): GpuMatrix {
    const m = this.matrices.get(name);
    if (!m) throw new GpuDeviceError(`weight ${name} was not uploaded`);
    return m;
  }

  destroy(): void {
    for (const b of this.vectors.values()) b.destroy();
    for (const m of this.matrices.values()) for (const p of m.parts) p.buffer.destroy();
  }
}
