/**
 * Framing between ranks. Every message is a 32-byte header and a payload:
 *
 *   off  size  field
 *    0    2    magic 0xD5C5
 *    2    1    type      DATA | HELLO | CONTROL
 *    3    1    kind      collective kind code (KIND_CODE)
 *    4    4    groupId
 *    8    4    seq       the group's collective number (p2p: per-pair message number)
 *   12    4    count     elements in the whole collective / message
 *   16    4    offset    element offset of this chunk in the collective's index space
 *   20    4    arg       op code, root, or 0
 *   24    1    dtype     wire dtype code
 *   25    1    channel   0 collective, 1 point-to-point
 *   26    2    reserved
 *   28    4    bytes     payload length
 *
 * The receiver checks kind/seq/count/arg/dtype/offset against what it expects, which is how
 * mismatched collectives are caught instead of hanging.
 */
import { EMPTY_PAYLOAD, type Payload } from './payload.ts';
import type { CollectiveKind } from './types.ts';

export const HEADER_BYTES = 32;
const MAGIC = 0xd5c5;

export const FrameType = { DATA: 1, HELLO: 2, CONTROL: 3 } as const;
export const Channel = { COLL: 0, P2P: 1 } as const;

export const KIND_CODE: Record<CollectiveKind, number> = {
  allReduce: 1, reduceScatter: 2, allGather: 3, broadcast: 4, barrier: 5, send: 6, recv: 6,
};
export function kindName(code: number): string {
  return (['?', 'allReduce', 'reduceScatter', 'allGather', 'broadcast', 'barrier', 'send/recv'] as const)[code] ?? `kind#${code}`;
}

export interface Header {
  type: number;
  kind: number;
  groupId: number;
  seq: number;
  count: number;
  offset: number;
  arg: number;
  dtype: number;
  channel: number;
  bytes: number;
}

export interface Frame {
  h: Header;
  /** h.bytes in all: one pooled buffer (FrameReader) or views of socket reads (FrameParser). */
  payload: Payload;
  /** Hands a pooled payload back for reuse; call once, when nothing reads or sends it any more. */
  recycle?: () => void;
  /** The payload was read straight into the destination the receiver posted for it. */
  placed?: boolean;
}

export function encodeHeader(h: Header): Buffer {
  const b = Buffer.allocUnsafe(HEADER_BYTES);
  b.writeUInt16LE(MAGIC, 0);
  b.writeUInt8(h.type, 2);
  b.writeUInt8(h.kind, 3);
  b.writeUInt32LE(h.groupId >>> 0, 4);
  b.writeUInt32LE(h.seq >>> 0, 8);
  b.writeUInt32LE(h.count >>> 0, 12);
  b.writeUInt32LE(h.offset >>> 0, 16);
  b.writeUInt32LE(h.arg >>> 0, 20);
  b.writeUInt8(h.dtype, 24);
  b.writeUInt8(h.channel, 25);
  b.writeUInt16LE(0, 26);
  b.writeUInt32LE(h.bytes >>> 0, 28);
  return b;
}

export function decodeHeader(b: Buffer): Header {
  if (b.readUInt16LE(0) !== MAGIC) throw new Error(`bad frame magic 0x${b.readUInt16LE(0).toString(16)}`);
  return {
    type: b.readUInt8(2), kind: b.readUInt8(3), groupId: b.readUInt32LE(4), seq: b.readUInt32LE(8),
    count: b.readUInt32LE(12), offset: b.readUInt32LE(16), arg: b.readUInt32LE(20), dtype: b.readUInt8(24),
    channel: b.readUInt8(25), bytes: b.readUInt32LE(28),
  };
}

/**
 * Incremental parser: feed it socket chunks, it calls onFrame per complete frame. Payload bytes
 * are never copied: a frame keeps views of the chunks it spans.
 */
export class FrameParser {
  private readonly head = Buffer.alloc(HEADER_BYTES);
  private headFill = 0;
  private cur: Header | null = null;
  private pieces: Buffer[] = [];
  private remaining = 0;

  constructor(private readonly onFrame: (f: Frame) => void) {}

  push(chunk: Buffer): void {
    let pos = 0;
    while (pos < chunk.length) {
      if (!this.cur) {
        const n = Math.min(HEADER_BYTES - this.headFill, chunk.length - pos);
        chunk.copy(this.head, this.headFill, pos, pos + n);
        this.headFill += n;
        pos += n;
        if (this.headFill < HEADER_BYTES) return;
        this.headFill = 0;
        this.cur = decodeHeader(this.head);
        this.remaining = this.cur.bytes;
        if (this.remaining === 0) {
          this.emit(EMPTY_PAYLOAD);
          continue;
        }
      }
      const n = Math.min(this.remaining, chunk.length - pos);
      this.pieces.push(chunk.subarray(pos, pos + n));
      this.remaining -= n;
      pos += n;
      if (this.remaining === 0) {
        const payload = this.pieces;
        this.pieces = [];
        this.emit(payload);
      }
    }
  }

  private emit(payload: Payload): void {
    const h = this.cur!;
    this.cur = null;
    this.onFrame({ h, payload });
  }
}
