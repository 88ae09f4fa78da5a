/** GGUF metadata value types (gguf.h: enum gguf_type). */
export const GgufType = {
  UINT8: 0, INT8: 1, UINT16: 2, INT16: 3, UINT32: 4, INT32: 5, FLOAT32: 6, BOOL: 7,
  STRING: 8, ARRAY: 9, UINT64: 10, INT64: 11, FLOAT64: 12,
} as const;
export type GgufTypeId = (typeof GgufType)[keyof typeof GgufType];

/** Bytes of one scalar of each fixed-size metadata type. */
export const SCALAR_BYTES: Partial<Record<number, number>> = {
  0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8,
};

/** ggml tensor types this project reads (ggml.h: enum ggml_type). */
export const GgmlType = { F32: 0, F16: 1, Q4_0: 2, Q4_1: 3, Q5_0: 6, Q5_1: 7, Q8_0: 8, Q2_K: 10, Q3_K: 11, Q4_K: 12, Q5_K: 13, Q6_K: 14, BF16: 30 } as const;
export type GgmlTypeId = (typeof GgmlType)[keyof typeof GgmlType];

/**
 * Elements per block and bytes per block, as ggml defines them:
 *   Q8_0: { f16 d; int8 qs[32] }          x = d * q
 *   Q4_0: { f16 d; uint8 qs[16] }         x[j] = d * ((qs[j] & 15) - 8), x[j + 16] = d * ((qs[j] >> 4) - 8)
 *   Q4_1, Q5_0, Q5_1: quant.ts;  Q2_K, Q3_K (kquant_low.ts), Q4_K, Q5_K, Q6_K (kquant.ts): 256-element super blocks
 */
export const BLOCK: Record<GgmlTypeId, { elems: number; bytes: number; name: string }> = {
  0: { elems: 1, bytes: 4, name: 'F32' },
  1: { elems: 1, bytes: 2, name: 'F16' },
  2: { elems: 32, bytes: 18, name: 'Q4_0' },
  3: { elems: 32, bytes: 20, name: 'Q4_1' },
  6: { elems: 32, bytes: 22, name: 'Q5_0' },
  7: { elems: 32, bytes: 24, name: 'Q5_1' },
  8: { elems: 32, bytes: 34, name: 'Q8_0' },
  10: { elems: 256, bytes: 84, name: 'Q2_K' },
  11: { elems: 256, bytes: 110, name: 'Q3_K' },
  12: { elems: 256, bytes: 144, name: 'Q4_K' },
  13: { elems: 256, bytes: 176, name: 'Q5_K' },
  14: { elems: 256, bytes: 210, name: 'Q6_K' },
  30: { elems: 1, bytes: 2, name: 'BF16' },
};

/** Every ggml type's name (ggml.h), to name one this project does not read. */
export const GGML_TYPE_NAMES: Partial<Record<number, string>> = {
  0: 'F32', 1: 'F16', 2: 'Q4_0', 3: 'Q4_1', 6: 'Q5_0', 7: 'Q5_1', 8: 'Q8_0', 9: 'Q8_1', 10: 'Q2_K', 11: 'Q3_K',
  12: 'Q4_K', 13: 'Q5_K', 14: 'Q6_K', 15: 'Q8_K', 16: 'IQ2_XXS', 17: 'IQ2_XS', 18: 'IQ3_XXS', 19: 'IQ1_S',
  20: 'IQ4_NL', 21: 'IQ3_S', 22: 'IQ2_S', 23: 'IQ4_XS', 24: 'I8', 25: 'I16', 26: 'I32', 27: 'I64', 28: 'F64',
  29: 'IQ1_M', 30: 'BF16', 34: 'TQ1_0', 35: 'TQ2_0', 39: 'MXFP4',
};

export const GGUF_MAGIC = 0x46554747; // "GGUF" read as a little-endian u32
export const DEFAULT_ALIGNMENT = 32;
export const MAX_DIMS = 4;
