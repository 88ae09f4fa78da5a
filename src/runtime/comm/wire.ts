/**
 * Turning Float32Array ranges into wire payloads and back. float32 payloads are Buffer views
 * over the caller's memory (no copy); fp16/bf16 are packed into a fresh buffer. Received
 * payloads are reduced into float32 in one tight loop per (op, dtype).
 */
import type { ReduceOp, WireDtype } from './types.ts';
import { f16DecodeTable, packBf16, packF16, unpackBf16, unpackF16 } from './half.ts';

export const WIRE_DTYPE_CODE: Record<WireDtype, number> = { float32: 0, fp16: 1, bf16: 2 };
export const WIRE_DTYPES: readonly WireDtype[] = ['float32', 'fp16', 'bf16'];

export function bytesPerElement(dtype: WireDtype): number {
  return dtype === 'float32' ? 4 : 2;
}

/** view [n] -> payload of n * bytesPerElement bytes. */
export function encode(view: Float32Array, dtype: WireDtype): Buffer {
  if (dtype === 'float32') return Buffer.from(view.buffer, view.byteOffset, view.byteLength);
  const out = Buffer.allocUnsafe(view.length * 2);
  const u16 = new Uint16Array(out.buffer, out.byteOffset, view.length);
  if (dtype === 'fp16') packF16(view, u16);
  else packBf16(view, u16);
  return out;
}

/** payload -> dst [n], overwriting. payload.byteOffset must be a multiple of 4 (the frame parser sees to it). */
export function decodeInto(payload: Buffer, dtype: WireDtype, dst: Float32Array): void {
  if (dtype === 'float32') {
    dst.set(new Float32Array(payload.buffer, payload.byteOffset, dst.length));
    return;
  }
  const u16 = new Uint16Array(payload.buffer, payload.byteOffset, dst.length);
  if (dtype === 'fp16') unpackF16(u16, dst);
  else unpackBf16(u16, dst);
}

/** dst [n] = op(dst, decode(payload)); `avg` adds here and divides at the owning rank. */
export function reduceInto(payload: Buffer, dtype: WireDtype, dst: Float32Array, op: ReduceOp): void {
  const n = dst.length;
  let src: Float32Array;
  if (dtype === 'float32') {
    src = new Float32Array(payload.buffer, payload.byteOffset, n);
  } else if (dtype === 'fp16' && (op === 'sum' || op === 'avg')) {
    // Fused decode + add: the common gradient case skips the temporary.
    const t = f16DecodeTable();
    const u16 = new Uint16Array(payload.buffer, payload.byteOffset, n);
    for (let i = 0; i < n; i++) dst[i]! += t[u16[i]!]!;
    return;
  } else {
    src = new Float32Array(n);
    decodeInto(payload, dtype, src);
  }
  switch (op) {
    case 'sum':
    case 'avg':
      for (let i = 0; i < n; i++) dst[i]! += src[i]!;
      return;
    case 'max':
      for (let i = 0; i < n; i++) if (src[i]! > dst[i]! || src[i] !== src[i]) dst[i] = src[i]!;
      return;
    case 'min':
      for (let i = 0; i < n; i++) if (src[i]! < dst[i]! || src[i] !== src[i]) dst[i] = src[i]!;
      return;
  }
}

/** In place: view rounded to what the wire dtype can hold, so the owner keeps what the others receive. */
export function roundThrough(view: Float32Array, dtype: WireDtype): void {
  if (dtype === 'float32' || view.length === 0) return;
  decodeInto(encode(view, dtype), dtype, view);
}
