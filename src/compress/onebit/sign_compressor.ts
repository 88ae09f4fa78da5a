/**
 * 1-bit compression with error feedback: each element keeps only its sign, each block of
 * `blockElems` elements one float32 scale (the block's RMS, as DeepSpeed's compressed_allreduce
 * scales by ‖x‖/√n), and what the compression lost is kept to be added to the next input:
 *
 *   c ← x + e                      (compensate with the error left by the last call)
 *   s_b ← √(Σ_{i∈b} c_i² / B)      (one scale per block b of B elements)
 *   q_i ← s_b · (c_i ≥ 0 ? +1 : −1)  (0 goes to +1, as DeepSpeed's sign().add(1).bool())
 *   e ← c − q                      (the error feedback for the next call)
 *
 * A packed message of L elements (L a multiple of B, B a multiple of 32) is L/8 + 4·L/B bytes:
 *
 *   | sign bits: element i → byte i>>3, bit i&7 (1 = non-negative) | scale of block 0 | block 1 | … |
 *   [0 ───────────────────────────────────────────── L/8)          [L/8 ── +4·L/B), float32 LE
 *
 * At B = 512 that is 1/8 + 1/128 bytes per element against 4 for float32: 30× fewer.
 */
import { assert } from '../../errors.ts';

/** Bytes of a packed message of `elems` elements in blocks of `blockElems`. */
export function packedBytes(elems: number, blockElems: number): number {
  checkShape(elems, blockElems);
  return elems / 8 + 4 * (elems / blockElems);
}

/**
 * out ← pack(x + error); error ← (x + error) − unpack(out). x [L] is read only, error [L] is
 * updated in place, out has packedBytes(L, B) bytes and its byteOffset is a multiple of 4.
 */
export function compressWithFeedback(x: Float32Array, error: Float32Array, out: Uint8Array, blockElems: number): void {
  const L = x.length;
  assert(error.length === L, () => `compressWithFeedback: error has ${error.length} elements, x has ${L}`);
  assert(out.byteLength === packedBytes(L, blockElems), () => `compressWithFeedback: out has ${out.byteLength} bytes, a message of ${L} elements needs ${packedBytes(L, blockElems)}`);
  const scales = scalesView(out, L, blockElems);
  for (let b = 0, lo = 0; lo < L; b++, lo += blockElems) {
    const hi = lo + blockElems;
    let ss = 0;
    for (let i = lo; i < hi; i++) {
      const c = Math.fround(x[i]! + error[i]!);
      error[i] = c; // error holds c until the scale is known
      ss += c * c;
    }
    const s = Math.fround(Math.sqrt(ss / blockElems));
    scales[b] = s;
    const s2 = 2 * s;
    for (let i = lo; i < hi; i += 8) {
      let byte = 0;
      for (let k = 0; k < 8; k++) {
        const c = error[i + k]!;
        // c ≥ 0 (−0 included, as 0 goes to +1): bit 1, q = +s; else bit 0, q = −s.
        const neg = c < 0 ? 1 : 0;
        byte |= (1 - neg) << k;
        error[i + k] = c - s + s2 * neg;
      }
      out[i >> 3] = byte;
    }
  }
}

/** out[i] ← out[i]·(accumulate ? 1 : 0) + weight·unpack(packed)[i], for out [L]. */
export function decompressInto(packed: Uint8Array, out: Float32Array, blockElems: number, weight = 1, accumulate = false): void {
  const L = out.length;
  assert(packed.byteLength === packedBytes(L, blockElems), () => `decompressInto: packed has ${packed.byteLength} bytes, a message of ${L} elements has ${packedBytes(L, blockElems)}`);
  const scales = scalesView(packed, L, blockElems);
  for (let b = 0, lo = 0; lo < L; b++, lo += blockElems) {
    const s = weight * scales[b]!;
    const s2 = 2 * s;
    const hi = lo + blockElems;
    // q = ±s from bit k of the byte: −s + 2s·bit.
    if (accumulate) {
      for (let i = lo; i < hi; i++) out[i] = out[i]! - s + s2 * ((packed[i >> 3]! >> (i & 7)) & 1);
    } else {
      for (let i = lo; i < hi; i++) out[i] = -s + s2 * ((packed[i >> 3]! >> (i & 7)) & 1);
    }
  }
}

function scalesView(packed: Uint8Array, L: number, blockElems: number): Float32Array {
  assert((packed.byteOffset + L / 8) % 4 === 0, () => `packed message at byte ${packed.byteOffset}: its scales must start 4-byte aligned`);
  return new Float32Array(packed.buffer, packed.byteOffset + L / 8, L / blockElems);
}

function checkShape(elems: number, blockElems: number): void {
  assert(Number.isInteger(blockElems) && blockElems > 0 && blockElems % 32 === 0, () => `1-bit compressor: blockElems must be a positive multiple of 32, got ${blockElems}`);
  assert(Number.isInteger(elems) && elems % blockElems === 0, () => `1-bit compressor: ${elems} elements is not a whole number of blocks of ${blockElems}`);
}
