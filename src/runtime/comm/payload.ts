/**
 * A received payload is kept as the socket reads it arrived in: views of Node's read buffers,
 * in order, never copied into one frame buffer. Typed arrays need offsets aligned to their
 * element size, and a read may end inside an element, so consumers walk a payload as aligned
 * spans of whole elements:
 *
 *   reads:  |-- read 0 ----------|-- read 1 -----------------|
 *   elems:  | e0 | e1 | e2 | e3 |e4|e4| e5 | e6 | …           (e4 split: goes through `carry`)
 *
 * Only a split element, or a run whose read buffer is itself misaligned, is copied (into a
 * scratch the callback must consume before returning).
 */

/** A frame's payload: byte ranges in arrival order. A Buffer we send is a payload of one. */
export type Payload = readonly Buffer[];

export const EMPTY_PAYLOAD: Payload = [];

export function payloadBytes(p: Payload): number {
  let n = 0;
  for (const b of p) n += b.length;
  return n;
}

/** One contiguous Buffer (copies unless the payload is a single read). For small frames: JSON. */
export function concatPayload(p: Payload): Buffer {
  return p.length === 1 ? p[0]! : Buffer.concat(p as Buffer[]);
}

/** Fresh ArrayBuffers start at offset 0: aligned for any element size. */
const carry = Buffer.from(new ArrayBuffer(8));
let scratch = Buffer.from(new ArrayBuffer(1 << 16));

function scratchOf(bytes: number): Buffer {
  if (scratch.length < bytes) scratch = Buffer.from(new ArrayBuffer(Math.max(bytes, 2 * scratch.length)));
  return scratch.subarray(0, bytes);
}

/**
 * Calls fn(bytes, elem) over the payload in order, where bytes holds whole elements of bpe
 * bytes, starts at an offset aligned to bpe, and begins at element `elem` of the payload.
 * `bytes` may be scratch memory: fn must not keep it.
 */
export function forEachSpan(p: Payload, bpe: number, fn: (bytes: Buffer, elem: number) => void): void {
  let elem = 0;
  let carried = 0;
  for (const piece of p) {
    let pos = 0;
    if (carried > 0) {
      pos = Math.min(bpe - carried, piece.length);
      piece.copy(carry, carried, 0, pos);
      carried += pos;
      if (carried < bpe) continue;
      fn(carry.subarray(0, bpe), elem++);
      carried = 0;
    }
    const whole = piece.length - pos - ((piece.length - pos) % bpe);
    if (whole > 0) {
      let run = piece.subarray(pos, pos + whole);
      if (run.byteOffset % bpe !== 0) {
        const s = scratchOf(whole);
        run.copy(s);
        run = s;
      }
      fn(run, elem);
      elem += whole / bpe;
      pos += whole;
    }
    if (pos < piece.length) {
      piece.copy(carry, 0, pos);
      carried = piece.length - pos;
    }
  }
}

/** Copies the payload's bytes into dst from its first byte (plain bytes: no alignment needed). */
export function copyPayloadInto(p: Payload, dst: Uint8Array): void {
  let off = 0;
  for (const piece of p) {
    dst.set(piece, off);
    off += piece.length;
  }
}
