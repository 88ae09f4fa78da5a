import { FormatError } from '../../../errors.ts';
import type { HostTensor, StoredTensor } from '../types.ts';
import type { GgufFile, GgufTensorInfo } from './reader.ts';
import { findCorruptBlock, tensorType } from './tensor_types.ts';

/**
 * A tensor kept in its stored format: `stored` is the bytes (a view of the file, no copy), and
 * `data` dequantizes on first read and keeps the result (the runner never reads it for the
 * types its kernels take; references, exports and tests may).
 */
class StoredHostTensor implements HostTensor {
  private values: Float32Array | null = null;

  constructor(readonly shape: number[], readonly stored: StoredTensor) {}

  get data(): Float32Array {
    this.values ??= tensorType(this.stored.type).dequantize(this.stored.bytes, 0, this.shape.reduce((a, b) => a * b, 1));
    return this.values;
  }
}

/**
 * One GGUF tensor as the loader hands it on: F32 copied out, every other type kept as its blocks
 * after checking that each block's scales (each F16 / BF16 value) are finite, so that a corrupt
 * block is one FormatError naming the tensor and the file offset of the block.
 */
export function hostTensorOf(g: GgufFile, info: GgufTensorInfo): HostTensor {
  const bytes = g.bytes.subarray(info.offset, info.offset + info.nbytes);
  const bad = findCorruptBlock(info.type, bytes, 0, info.nbytes);
  if (bad >= 0) {
    throw new FormatError(g.file, `tensor "${info.name}" (${tensorType(info.type).name}): block at offset ${info.offset + bad} has a non-finite scale or value`);
  }
  if (info.type === 0) return { shape: info.shape, data: tensorType(0).dequantize(bytes, 0, info.nbytes / 4) };
  return new StoredHostTensor(info.shape, { type: info.type, bytes });
}
