import { FormatError } from '../../../errors.ts';
import type { HostTensor, StoredTensor } from '../types.ts';
import type { GgufFile, GgufTensorInfo } from './reader.ts';
import { findCorruptBlock, tensorType } from './tensor_types.ts';

/** Bytes checked at a time when a tensor is streamed from its file (a multiple of every block size's lcm is not needed: chunks end on block boundaries). */
const CHECK_CHUNK = 8 * 2 ** 20;

/** One reusable buffer for the checks (a load checks one chunk at a time). */
let checkBuf = new Uint8Array(0);
function scratch(n: number): Uint8Array {
  if (checkBuf.length < n) checkBuf = new Uint8Array(n);
  return checkBuf;
}

/**
 * A tensor kept in its stored format. `stored.bytes` is read from the GGUF each time it is
 * asked for (a view when the file is in memory, a read from disk for openGguf), so the loader
 * holds no copy; `data` dequantizes on first read and keeps the result (the runner never reads
 * it: it streams `stored.bytes` into its memory, or dequantizes a part it cannot keep).
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
 * One GGUF tensor as the loader hands it on, after checking block by block (streamed in chunks)
 * that each block's scales, and each F16 / BF16 value, are finite: a corrupt block is one
 * FormatError naming the tensor and the file offset of the block.
 */
export function hostTensorOf(g: GgufFile, info: GgufTensorInfo): HostTensor {
  const t = tensorType(info.type);
  if (info.type !== 0) {
    const chunk = Math.max(t.bytes, Math.floor(CHECK_CHUNK / t.bytes) * t.bytes);
    const buf = scratch(Math.min(chunk, info.nbytes));
    for (let at = 0; at < info.nbytes; at += chunk) {
      const n = Math.min(chunk, info.nbytes - at);
      g.readInto(info.offset + at, buf.subarray(0, n));
      const bad = findCorruptBlock(info.type, buf, 0, n);
      if (bad >= 0) throw new FormatError(g.file, `tensor "${info.name}" (${t.name}): block at offset ${info.offset + at + bad} has a non-finite scale or value`);
    }
  }
  return new StoredHostTensor(info.shape, {
    type: info.type,
    byteLength: info.nbytes,
    get bytes() {
      return g.read(info.offset, info.nbytes);
    },
    copyTo: (dst: Uint8Array) => g.readInto(info.offset, dst.subarray(0, info.nbytes)),
  });
}
