/**
 * How a buffer is stored on disk. Float32 buffers may be stored as fp16 or bf16 (the
 * config's `fp16`/`bf16` switch: smaller weights, round to nearest even); they come back
 * as Float32Array. Bytes are raw little-endian.
 */
import { endianness } from 'node:os';
import { NotImplementedError } from '../../errors.ts';
import { packBf16, packF16, unpackBf16, unpackF16 } from '../comm/half.ts';

/** What the caller hands in and gets back. */
export type BufferKind = 'float32' | 'uint8';
/** What lies in the file. */
export type StorageDtype = 'float32' | 'float16' | 'bfloat16' | 'uint8';
/** The storage a caller may ask for, per float32 buffer. */
export type HalfDtype = 'fp32' | 'fp16' | 'bf16';

export type CheckpointBuffer = Float32Array | Uint8Array;

export const BYTES_PER: Record<StorageDtype, number> = { float32: 4, float16: 2, bfloat16: 2, uint8: 1 };

/** The storage dtype for weights from the config: `bf16.enabled` or `fp16.enabled`, else fp32. */
export function weightDtypeFromConfig(cfg: { fp16?: { enabled: boolean }; bf16?: { enabled: boolean } }): HalfDtype {
  if (cfg.bf16?.enabled) return 'bf16';
  if (cfg.fp16?.enabled) return 'fp16';
  return 'fp32';
}

function assertLittleEndianHost(): void {
  if (endianness() !== 'LE') throw new NotImplementedError('checkpoints on a big-endian host');
}

export function kindOf(buf: CheckpointBuffer): BufferKind {
  return buf instanceof Float32Array ? 'float32' : 'uint8';
}

/** The file's bytes for a buffer; a view when no conversion is needed. */
export function encode(buf: CheckpointBuffer, as: HalfDtype): { bytes: Uint8Array; dtype: StorageDtype } {
  assertLittleEndianHost();
  if (buf instanceof Uint8Array) return { bytes: buf, dtype: 'uint8' };
  const raw = (b: ArrayBufferView): Uint8Array => new Uint8Array(b.buffer, b.byteOffset, b.byteLength);
  if (as === 'fp32') return { bytes: raw(buf), dtype: 'float32' };
  const half = new Uint16Array(buf.length);
  if (as === 'fp16') packF16(buf, half);
  else packBf16(buf, half);
  return { bytes: raw(half), dtype: as === 'fp16' ? 'float16' : 'bfloat16' };
}

/** A buffer of the caller's kind from a file's bytes (`bytes` is 4-byte aligned, owned). */
export function decode(bytes: Uint8Array, dtype: StorageDtype): CheckpointBuffer {
  assertLittleEndianHost();
  if (dtype === 'uint8') return bytes;
  if (dtype === 'float32') return new Float32Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 4);
  const half = new Uint16Array(bytes.buffer, bytes.byteOffset, bytes.byteLength / 2);
  const out = new Float32Array(half.length);
  if (dtype === 'float16') unpackF16(half, out);
  else unpackBf16(half, out);
  return out;
}
