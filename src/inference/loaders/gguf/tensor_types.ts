import { decodeBf16, decodeF16, decodeF32, encodeBf16, encodeF16, encodeF32 } from '../dtype.ts';
import type { GgmlTypeId } from './constants.ts';
import { dequantizeQ2_K, dequantizeQ3_K, quantizeQ2_K, quantizeQ3_K } from './kquant_low.ts';
import { dequantizeQ4_K, dequantizeQ5_K, dequantizeQ6_K, quantizeQ4_K, quantizeQ5_K, quantizeQ6_K } from './kquant.ts';
import { dequantizeQ4_0, dequantizeQ4_1, dequantizeQ5_0, dequantizeQ5_1, dequantizeQ8_0, quantizeQ4_0, quantizeQ4_1, quantizeQ5_0, quantizeQ5_1, quantizeQ8_0 } from './quant.ts';

/** What deepscale knows of one ggml tensor type: its block, its reference codecs, where its scales sit. */
export interface TensorTypeInfo {
  readonly name: string;
  /** Elements and bytes of one block (1 and the element size for the float types). */
  readonly elems: number;
  readonly bytes: number;
  /** `count` elements from the blocks at `byteOffset` of `buf`, as float32. */
  readonly dequantize: (buf: Uint8Array, byteOffset: number, count: number) => Float32Array;
  /** float32 → blocks (count a multiple of `elems`). */
  readonly quantize: (x: Float32Array) => Uint8Array;
  /** Byte offsets in a block of its f16 scales: a non-finite one is a corrupt block. */
  readonly scales: readonly number[];
}

export const TENSOR_TYPES: Readonly<Partial<Record<GgmlTypeId, TensorTypeInfo>>> = {
  0: { name: 'F32', elems: 1, bytes: 4, dequantize: decodeF32, quantize: encodeF32, scales: [] },
  1: { name: 'F16', elems: 1, bytes: 2, dequantize: decodeF16, quantize: encodeF16, scales: [] },
  30: { name: 'BF16', elems: 1, bytes: 2, dequantize: decodeBf16, quantize: encodeBf16, scales: [] },
  2: { name: 'Q4_0', elems: 32, bytes: 18, dequantize: dequantizeQ4_0, quantize: quantizeQ4_0, scales: [0] },
  3: { name: 'Q4_1', elems: 32, bytes: 20, dequantize: dequantizeQ4_1, quantize: quantizeQ4_1, scales: [0, 2] },
  6: { name: 'Q5_0', elems: 32, bytes: 22, dequantize: dequantizeQ5_0, quantize: quantizeQ5_0, scales: [0] },
  7: { name: 'Q5_1', elems: 32, bytes: 24, dequantize: dequantizeQ5_1, quantize: quantizeQ5_1, scales: [0, 2] },
  8: { name: 'Q8_0', elems: 32, bytes: 34, dequantize: dequantizeQ8_0, quantize: quantizeQ8_0, scales: [0] },
  10: { name: 'Q2_K', elems: 256, bytes: 84, dequantize: dequantizeQ2_K, quantize: quantizeQ2_K, scales: [80, 82] },
  11: { name: 'Q3_K', elems: 256, bytes: 110, dequantize: dequantizeQ3_K, quantize: quantizeQ3_K, scales: [108] },
  12: { name: 'Q4_K', elems: 256, bytes: 144, dequantize: dequantizeQ4_K, quantize: quantizeQ4_K, scales: [0, 2] },
  13: { name: 'Q5_K', elems: 256, bytes: 176, dequantize: dequantizeQ5_K, quantize: quantizeQ5_K, scales: [0, 2] },
  14: { name: 'Q6_K', elems: 256, bytes: 210, dequantize: dequantizeQ6_K, quantize: quantizeQ6_K, scales: [208] },
};

export function tensorType(type: GgmlTypeId): TensorTypeInfo {
  const t = TENSOR_TYPES[type];
  if (!t) throw new Error(`tensorType: ggml type ${type} has no codec`);
  return t;
}

/**
 * The offset (from the tensor's start) of the first block whose f16 scale is Inf or NaN, or of
 * the first non-finite value of an F16 / BF16 tensor; -1 when every block is sound.
 */
export function findCorruptBlock(type: GgmlTypeId, buf: Uint8Array, byteOffset: number, nbytes: number): number {
  const t = tensorType(type);
  if (type === 1 || type === 30) {
    const exp = type === 1 ? 0x7c00 : 0x7f80;
    for (let at = 0; at < nbytes; at += 2) if (((buf[byteOffset + at]! | (buf[byteOffset + at + 1]! << 8)) & exp) === exp) return at;
    return -1;
  }
  for (let at = 0; at < nbytes; at += t.bytes) {
    for (const s of t.scales) if (((buf[byteOffset + at + s]! | (buf[byteOffset + at + s + 1]! << 8)) & 0x7c00) === 0x7c00) return at;
  }
  return -1;
}
