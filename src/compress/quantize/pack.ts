import { FormatError } from '../../errors.ts';

/**
 * Bit packing of unsigned codes. bits ≤ 4: two codes a byte, element 2i in the low nibble and
 * 2i + 1 in the high one (an odd count leaves the last high nibble 0); bits 5..8: one byte each.
 *
 *   byte k (bits ≤ 4):  | hi: code 2k+1 | lo: code 2k |
 */
export function packedBytes(count: number, bits: number): number {
  return bits <= 4 ? Math.ceil(count / 2) : count;
}

export function packCodes(codes: Uint8Array, bits: number): Uint8Array {
  if (bits > 4) return codes.slice();
  const out = new Uint8Array(packedBytes(codes.length, bits));
  for (let i = 0; i < codes.length; i += 2) out[i >> 1] = (codes[i]! & 15) | ((codes[i + 1] ?? 0) & 15) << 4;
  return out;
}

/** The inverse of packCodes; `file` names the source in errors (a truncated tensor, a code out of range). */
export function unpackCodes(packed: Uint8Array, count: number, bits: number, file: string): Uint8Array {
  const need = packedBytes(count, bits);
  if (packed.length !== need) throw new FormatError(file, `packed codes are ${packed.length} bytes; ${count} codes of ${bits} bits need ${need}`);
  if (bits > 4) {
    const max = 2 ** bits - 1;
    for (let i = 0; i < count; i++) if (packed[i]! > max) throw new FormatError(file, `code ${packed[i]} at element ${i} does not fit in ${bits} bits`);
    return packed.slice();
  }
  const out = new Uint8Array(count);
  for (let i = 0; i < count; i++) out[i] = i & 1 ? packed[i >> 1]! >> 4 : packed[i >> 1]! & 15;
  const max = 2 ** bits - 1;
  for (let i = 0; i < count; i++) if (out[i]! > max) throw new FormatError(file, `code ${out[i]} at element ${i} does not fit in ${bits} bits`);
  return out;
}
