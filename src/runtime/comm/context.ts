/**
 * One running collective (or point-to-point message) on one group: it stamps outgoing frames
 * with (kind, seq, count, arg, dtype), checks incoming frames against the same, counts bytes,
 * tracks unflushed writes, and can be aborted (timeout, peer abort) while it waits.
 */
import { CommError } from '../../errors.ts';
import { Channel, FrameType, HEADER_BYTES, KIND_CODE, kindName, type Frame, type Header } from './frame.ts';
import type { Mailbox } from './mailbox.ts';
import { EMPTY_PAYLOAD, payloadBytes, type Payload } from './payload.ts';
import type { Transport } from './transport.ts';
import type { CollectiveKind, KindStats, ReduceOp, WireDtype } from './types.ts';
import { WIRE_DTYPES, WIRE_DTYPE_CODE } from './wire.ts';

export const OP_CODE: Record<ReduceOp, number> = { sum: 0, avg: 1, max: 2, min: 3 };
const OP_NAMES = ['sum', 'avg', 'max', 'min'];

/** What a collective needs from its group. Ranks passed to send/recv are group ranks. */
export interface GroupView {
  readonly groupId: number;
  readonly rank: number;
  readonly worldSize: number;
  readonly ranks: readonly number[];
  readonly transport: Transport;
  readonly chunkBytes: number;
  kindStats(kind: CollectiveKind): KindStats;
}

export interface CtxSpec {
  kind: CollectiveKind;
  seq: number;
  count: number;
  arg: number;
  dtype: WireDtype;
  channel: number;
}

/** Thrown inside a collective when its timer fires; the group turns it into a CommError. */
export class TimeoutSignal extends Error {}

export class Ctx {
  private readonly writes: Promise<void>[] = [];
  private waitingOn: Mailbox | null = null;
  error: Error | null = null;
  readonly stats: KindStats;
  /** Rejects on abort, so a flush stuck behind a peer that stopped reading still ends. */
  private readonly aborted: Promise<never>;
  private rejectAborted: (e: Error) => void = () => {};

  constructor(readonly g: GroupView, readonly spec: CtxSpec) {
    this.stats = g.kindStats(spec.kind);
    this.aborted = new Promise<never>((_, reject) => {
      this.rejectAborted = reject;
    });
    this.aborted.catch(() => {});
  }

  /** Queue a frame to group rank `to`. payload must stay unchanged until flush(). */
  send(to: number, offset: number, data: Buffer | Payload): void {
    if (this.error) throw this.error;
    const payload = Buffer.isBuffer(data) ? (data.length === 0 ? EMPTY_PAYLOAD : [data]) : data;
    const bytes = payloadBytes(payload);
    const s = this.spec;
    const h: Header = {
      type: FrameType.DATA, kind: KIND_CODE[s.kind], groupId: this.g.groupId, seq: s.seq, count: s.count,
      offset, arg: s.arg, dtype: WIRE_DTYPE_CODE[s.dtype], channel: s.channel, bytes,
    };
    this.stats.sentBytes += HEADER_BYTES + bytes;
    this.writes.push(this.g.transport.send(this.g.ranks[to]!, h, payload).catch((e: Error) => this.abort(e)));
  }

  /** The next frame from group rank `from`, checked to be chunk `offset` of `bytes` bytes of this collective. */
  async recv(from: number, offset: number, bytes: number): Promise<Payload> {
    if (this.error) throw this.error;
    const src = this.g.ranks[from]!;
    const box = this.g.transport.mailbox(this.g.groupId, this.spec.channel, src);
    let f = box.take();
    if (f instanceof Promise) {
      this.waitingOn = box;
      try {
        f = await f;
      } finally {
        this.waitingOn = null;
      }
    }
    this.check(f, src, offset, bytes);
    this.stats.receivedBytes += HEADER_BYTES + f.h.bytes;
    return f.payload;
  }

  private check(f: Frame, src: number, offset: number, bytes: number): void {
    const s = this.spec;
    const h = f.h;
    const theirs = describeCall(h.kind, h.seq, h.count, h.arg, h.dtype);
    const ours = describeCall(KIND_CODE[s.kind], s.seq, s.count, s.arg, WIRE_DTYPE_CODE[s.dtype]);
    if (theirs !== ours) {
      throw new CommError(`mismatched collectives: rank ${src} called ${theirs} while rank ${this.g.ranks[this.g.rank]} called ${ours}`);
    }
    if (h.offset !== offset || h.bytes !== bytes) {
      throw new CommError(`protocol error: rank ${src} sent a chunk at element ${h.offset} of ${h.bytes} bytes, expected element ${offset} of ${bytes} bytes`);
    }
  }

  /** Waits until every queued frame is in the kernel (the caller may then reuse the buffers). */
  async flush(): Promise<void> {
    while (this.writes.length > 0) await Promise.race([Promise.all(this.writes.splice(0)), this.aborted]);
    if (this.error) throw this.error;
  }

  abort(err: Error): void {
    if (!this.error) this.error = err;
    this.waitingOn?.cancel(this.error);
    this.rejectAborted(this.error);
  }
}

/** e.g. `allReduce #3 (1000 elements, op sum, fp16 wire)`: what two ranks must agree on. */
export function describeCall(kind: number, seq: number, count: number, arg: number, dtype: number): string {
  const name = kindName(kind);
  const parts = [`${count} elements`];
  if (name === 'allReduce' || name === 'reduceScatter') parts.push(`op ${OP_NAMES[arg] ?? arg}`);
  if (name === 'broadcast') parts.push(`root ${arg}`);
  if (dtype !== 0) parts.push(`${WIRE_DTYPES[dtype] ?? dtype} wire`);
  return `${name} #${seq} (${parts.join(', ')})`;
}

export { Channel };
