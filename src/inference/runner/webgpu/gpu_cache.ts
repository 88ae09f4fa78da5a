/// <reference types="@webgpu/types" />
/**
 * The KV block pool in GPU buffers, one K and one V buffer per layer, each
 * [numBlocks, Hkv, blockSize, Dh] float32 (the wasm pools' layout), and the scheduler's cache
 * operations on it: copy-on-write block copies on the GPU, swaps to and from host blocks
 * (Float32Arrays of the same block layout) through a staging buffer.
 */
import { assert } from '../../../errors.ts';
import type { BlockCopyPair, BlockSwapPair } from '../../attention/index.ts';
import type { GpuGlobals } from './gpu.ts';
import { GpuDeviceError } from './gpu_weights.ts';

export interface KvPoolShape {
  readonly numLayers: number;
  readonly numBlocks: number;
  readonly numHostBlocks: number;
  readonly blockSize: number;
  readonly numKvHeads: number;
  readonly headDim: number;
}

export interface CacheOps {
  readonly swappedOut: readonly BlockSwapPair[];
  readonly swappedIn: readonly BlockSwapPair[];
  readonly blockCopies: readonly BlockCopyPair[];
}

export class GpuKvPools {
  readonly k: GPUBuffer[] = [];
  readonly v: GPUBuffer[] = [];
  /** Host swap blocks per layer: [numHostBlocks · blockFloats] each. */
  private readonly hostK: Float32Array[];
  private readonly hostV: Float32Array[];
  /** Bytes of one block of one layer's K (or V). */
  readonly blockBytes: number;
  private readonly scratch: GPUBuffer;

  constructor(private readonly device: GPUDevice, private readonly g: GpuGlobals, readonly shape: KvPoolShape, maxBinding: number) {
    const u = g.GPUBufferUsage;
    this.blockBytes = 4 * shape.numKvHeads * shape.blockSize * shape.headDim;
    const poolBytes = this.blockBytes * shape.numBlocks;
    if (poolBytes > maxBinding) {
      throw new GpuDeviceError(`a layer's K pool (${shape.numBlocks} blocks × ${this.blockBytes} B = ${poolBytes} B) exceeds the adapter's max storage buffer binding of ${maxBinding} B; lower --kv-cache-memory`);
    }
    for (let l = 0; l < shape.numLayers; l++) {
      for (const [list, what] of [[this.k, 'k'], [this.v, 'v']] as const) {
        list.push(device.createBuffer({ label: `kv.${l}.${what}`, size: poolBytes, usage: u.STORAGE | u.COPY_SRC | u.COPY_DST }));
      }
    }
    const hostFloats = (shape.numHostBlocks * this.blockBytes) / 4;
    this.hostK = Array.from({ length: shape.numLayers }, () => new Float32Array(hostFloats));
    this.hostV = Array.from({ length: shape.numLayers }, () => new Float32Array(hostFloats));
    this.scratch = device.createBuffer({ label: 'kv.scratch', size: this.blockBytes, usage: u.COPY_SRC | u.COPY_DST });
  }

  get bytes(): number {
    return 2 * this.shape.numLayers * this.shape.numBlocks * this.blockBytes;
  }

  /** The step's swaps and copies in the wasm runner's order: out, in, then copy-on-write. */
  async apply(ops: CacheOps): Promise<void> {
    const { numBlocks, numHostBlocks } = this.shape;
    const check = (what: string, b: number, n: number) => assert(Number.isInteger(b) && b >= 0 && b < n, () => `GpuKvPools: ${what} block ${b} is outside 0..${n - 1}`);
    for (const p of ops.swappedOut) (check('swapOut from', p.from, numBlocks), check('swapOut to', p.to, numHostBlocks));
    for (const p of ops.swappedIn) (check('swapIn from', p.from, numHostBlocks), check('swapIn to', p.to, numBlocks));
    for (const p of ops.blockCopies) (check('copy src', p.src, numBlocks), check('copy dst', p.dst, numBlocks));
    if (ops.swappedOut.length > 0) await this.swapOut(ops.swappedOut);
    const bb = this.blockBytes;
    for (const { from, to } of ops.swappedIn) {
      for (let l = 0; l < this.shape.numLayers; l++) {
        this.device.queue.writeBuffer(this.k[l]!, to * bb, this.hostK[l]!, (from * bb) / 4, bb / 4);
        this.device.queue.writeBuffer(this.v[l]!, to * bb, this.hostV[l]!, (from * bb) / 4, bb / 4);
      }
    }
    if (ops.blockCopies.length > 0) {
      // A buffer cannot be both source and destination of one copy: through the scratch block.
      const enc = this.device.createCommandEncoder();
      for (const { src, dst } of ops.blockCopies) {
        for (const buf of [...this.k, ...this.v]) {
          enc.copyBufferToBuffer(buf, src * bb, this.scratch, 0, bb);
          enc.copyBufferToBuffer(this.scratch, 0, buf, dst * bb, bb);
        }
      }
      this.device.queue.submit([enc.finish()]);
    }
  }

  /** Device blocks → host blocks: copied to a staging buffer, read back, placed. */
  private async swapOut(pairs: readonly BlockSwapPair[]): Promise<void> {
    const bb = this.blockBytes;
    const L = this.shape.numLayers;
    const staging = this.device.createBuffer({ label: 'kv.swap', size: 2 * L * pairs.length * bb, usage: this.g.GPUBufferUsage.MAP_READ | this.g.GPUBufferUsage.COPY_DST });
    try {
      const enc = this.device.createCommandEncoder();
      pairs.forEach(({ from }, i) => {
        for (let l = 0; l < L; l++) {
          enc.copyBufferToBuffer(this.k[l]!, from * bb, staging, ((i * L + l) * 2) * bb, bb);
          enc.copyBufferToBuffer(this.v[l]!, from * bb, staging, ((i * L + l) * 2 + 1) * bb, bb);
        }
      });
      this.device.queue.submit([enc.finish()]);
      await staging.mapAsync(this.g.GPUMapMode.READ);
      const all = new Float32Array(staging.getMappedRange());
      const n = bb / 4;
      pairs.forEach(({ to }, i) => {
        for (let l = 0; l < L; l++) {
          this.hostK[l]!.set(all.subarray(((i * L + l) * 2) * n, ((i * L + l) * 2 + 1) * n), to * n);
          this.hostV[l]!.set(all.subarray(((i * L + l) * 2 + 1) * n, ((i * L + l) * 2 + 2) * n), to * n);
        }
      });
      staging.unmap();
    } finally {
      staging.destroy();
    }
  }

  destroy(): void {
    for (const b of [...this.k, ...this.v, this.scratch]) b.destroy();
  }
}
