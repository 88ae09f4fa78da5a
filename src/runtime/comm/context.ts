/**
 * One running collective (or point-to-point message) on one group: it stamps outgoing frames
 * with (kind, seq, count, arg, dtype), checks incoming frames against the same, counts bytes,
 * tracks unflushed writes, and can be aborted (timeout, peer abort) while it waits. Received
 * payloads live in the transport's pooled buffers: recvWith/recvInto lend them and recycle at
 * once, recv keeps them until the collective ends; post lets a chunk skip the pool entirely.
 */
import { CommError } from '../../errors.ts';
import { Channel, FrameType, HEADER_BYTES, KIND_CODE, kindName, type Frame, type Header } from './frame.ts';
import type { Mailbox } from './mailbox.ts';
import { EMPTY_PAYLOAD, payloadBytes, type Payload } from './payload.ts';
import type { Transport } from './transport.ts';
import type { CollectiveKind, KindStats, ReduceOp, WireDtype } from './types.ts';
import { WIRE_DTYPES, WIRE_DTYPE_CODE, bytesPerElement, decodeInto } from './wire.ts';

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
  /** Pooled frames handed out by recv, recycled when the collective ends cleanly. */
  private readonly held: Frame[] = [];
  /** Mailboxes holding destinations this collective posted. */
  private readonly posted = new Set<Mailbox>();
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

  /**
   * The next frame from group rank `from`, checked to be chunk `offset` of `bytes` bytes of this
   * collective. The payload stays valid until the collective ends (it may be forwarded).
   */
  async recv(from: number, offset: number, bytes: number): Promise<Payload> {
    const f = await this.take(from, offset, bytes);
    if (f.recycle) this.held.push(f);
    return f.payload;
  }

  /** Like recv, but the payload is only lent to use(): its buffer is reused once use returns. */
  async recvWith(from: number, offset: number, bytes: number, use: (p: Payload) => void): Promise<void> {
    const f = await this.take(from, offset, bytes);
    use(f.payload);
    f.recycle?.();
  }

  /**
   * Lets chunk `offset` from group rank `from` be read straight into `into`, which must then be
   * exactly its wire bytes (float32). Only frames whose header arrives after this can.
   */
  post(from: number, offset: number, into: Float32Array): void {
    const box = this.box(from);
    const bytes = into.byteLength;
    box.post(offset, Buffer.from(into.buffer, into.byteOffset, bytes), (h) => this.expects(h, offset, bytes));
    this.posted.add(box);
  }

  /**
   * Receives chunk `offset` into `into`: already there if it was read in place (see post), else
   * decoded from its payload. keep: the payload stays valid until the collective ends (to forward it).
   */
  async recvInto(from: number, offset: number, into: Float32Array, dtype: WireDtype, keep: boolean): Promise<Payload> {
    const f = await this.take(from, offset, into.length * bytesPerElement(dtype));
    if (!f.placed) decodeInto(f.payload, dtype, into);
    if (keep && f.recycle) this.held.push(f);
    else f.recycle?.();
    return f.payload;
  }

  /** The collective is over (or failed): posted memory is the caller's again. */
  unpostAll(): void {
    for (const box of this.posted) box.unpostAll();
    this.posted.clear();
  }

  /** After a clean flush nothing reads or writes the payloads recv returned: reuse them. */
  recycleHeld(): void {
    for (const f of this.held.splice(0)) f.recycle!();
  }

  private box(from: number): Mailbox {
    return this.g.transport.mailbox(this.g.groupId, this.spec.channel, this.g.ranks[from]!);
  }

  private async take(from: number, offset: number, bytes: number): Promise<Frame> {
    if (this.error) throw this.error;
    const src = this.g.ranks[from]!;
    const box = this.box(from);
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
    return f;
  }

  /** Exactly the frame check() would accept for chunk `offset` of `bytes` bytes. */
  private expects(h: Header, offset: number, bytes: number): boolean {
    const s = this.spec;
    return h.kind === KIND_CODE[s.kind] && h.seq === s.seq && h.count === s.count && h.arg === s.arg
      && h.dtype === WIRE_DTYPE_CODE[s.dtype] && h.offset === offset && h.bytes === bytes;
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
