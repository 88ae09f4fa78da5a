/**
 * WGSL shared by the kernels: the per-step uniform and byte access to stored weights.
 *
 * Step (written once per step, 48 bytes; offsets index the step's metadata buffer, i32):
 *   n          tokens of the batch (rows of every layer product)
 *   s          rows that sample (final norm)
 *   headRows   rows of this LM-head chunk, headRow0 its first sampled row
 *   maxBlocks  the block table stride
 *   posOff, slotOff, seqOff   [n] each: position, KV slot (−1: padding), sequence (−1: padding)
 *   sampleOff  [s] batch row of each sampled row
 *   tableOff   [numSeqs, maxBlocks] block tables
 *   tokOff     [n] token ids
 */
export const STEP_WGSL = /* wgsl */ `
struct Step {
  n: u32, s: u32, headRows: u32, headRow0: u32,
  maxBlocks: u32, posOff: u32, slotOff: u32, seqOff: u32,
  sampleOff: u32, tableOff: u32, tokOff: u32, p1: u32,
}`;

/** u32 words of the Step uniform. */
export const STEP_WORDS = 12;

export interface StepFields {
  n: number;
  s: number;
  headRows: number;
  headRow0: number;
  maxBlocks: number;
  posOff: number;
  slotOff: number;
  seqOff: number;
  sampleOff: number;
  tableOff: number;
  tokOff: number;
}

export function packStep(f: StepFields): Uint32Array {
  return Uint32Array.from([f.n, f.s, f.headRows, f.headRow0, f.maxBlocks, f.posOff, f.slotOff, f.seqOff, f.sampleOff, f.tableOff, f.tokOff, 0]);
}

/**
 * Bytes of a weight buffer W: array<u32>, little-endian. Stored blocks are not 4-byte aligned
 * (Q8_0 is 34 bytes, Q6_K 210), so fields are read a byte at a time.
 */
export const BYTES_WGSL = /* wgsl */ `
fn byte_at(off: u32) -> u32 { return (W[off >> 2u] >> ((off & 3u) * 8u)) & 0xffu; }
fn half_at(off: u32) -> f32 { return unpack2x16float(byte_at(off) | (byte_at(off + 1u) << 8u)).x; }
fn i8_of(b: u32) -> f32 { return f32(bitcast<i32>(b << 24u) >> 24u); }`;
