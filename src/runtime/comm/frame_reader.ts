/**
 * Reads frames off a socket this rank dialed, through net's `onread` option: the kernel copies
 * into memory we reuse, where Node's default path hands out a fresh 64 KiB Buffer per read
 * (its page faults and GC cost several times the copy itself). Headers and small payloads are
 * read into a staging buffer; once a header gives a payload's size, the payload gets a pooled
 * buffer — or the receiver's own destination, where it posted one — and the rest of it is read
 * straight into that buffer:
 *
 *   staging read:  | hdr | first bytes of payload ─copy─▶ body[0, k) |
 *   direct reads:                                       body[k, …) ◀── kernel
 */
import { HEADER_BYTES, decodeHeader, type Frame, type Header } from './frame.ts';
import { EMPTY_PAYLOAD } from './payload.ts';

const STAGING_BYTES = 64 << 10;
/** A payload remainder at least this big is read into its own buffer, not through staging. */
const DIRECT_MIN = 8 << 10;
/** Bytes of free payload buffers a connection keeps for reuse. */
const POOL_LIMIT = 64 << 20;

/** Free payload buffers by exact size (frames of one stream mostly share the chunk size). */
class BufferPool {
  private readonly free = new Map<number, Buffer[]>();
  private bytes = 0;

  take(size: number): Buffer {
    const b = this.free.get(size)?.pop();
    if (b) {
      this.bytes -= size;
      return b;
    }
    // Offset 0 of a fresh ArrayBuffer: typed-array views over the payload are aligned.
    return Buffer.from(new ArrayBuffer(size));
  }

  give(b: Buffer): void {
    if (this.bytes + b.length > POOL_LIMIT) return;
    let list = this.free.get(b.length);
    if (!list) this.free.set(b.length, (list = []));
    list.push(b);
    this.bytes += b.length;
  }
}

export class FrameReader {
  private readonly staging = Buffer.from(new ArrayBuffer(STAGING_BYTES));
  private readonly head = Buffer.alloc(HEADER_BYTES);
  private headFill = 0;
  private cur: Header | null = null;
  private body: Buffer | null = null;
  private bodyFill = 0;
  /** body is the receiver's own destination (see Mailbox.post), not a pooled buffer. */
  private placed = false;
  /** The buffer handed to the kernel for the read in progress is body[bodyFill, …). */
  private direct = false;
  private readonly pool = new BufferPool();

  /** Pass as net.connect({ onread }). */
  readonly onread = {
    buffer: (): Buffer => this.nextBuffer(),
    /** true: keep reading (false would pause the socket). */
    callback: (n: number): boolean => {
      try {
        this.onRead(n);
      } catch (err) {
        this.onBadStream(err as Error);
      }
      return true;
    },
  };

  /**
   * place: where a frame with this header should land, if the receiver posted a destination.
   * onBadStream: a malformed frame (bad magic); the stream cannot be resynchronised.
   */
  constructor(
    private readonly onFrame: (f: Frame) => void,
    private readonly place: (h: Header) => Buffer | null,
    private readonly onBadStream: (err: Error) => void,
  ) {}

  private nextBuffer(): Buffer {
    if (this.body && this.body.length - this.bodyFill >= DIRECT_MIN) {
      this.direct = true;
      return this.body.subarray(this.bodyFill);
    }
    this.direct = false;
    return this.staging;
  }

  private onRead(n: number): void {
    if (this.direct) {
      this.bodyFill += n;
      if (this.bodyFill === this.body!.length) this.emit(this.body!);
      return;
    }
    const chunk = this.staging;
    let pos = 0;
    while (pos < n) {
      if (!this.cur) {
        const k = Math.min(HEADER_BYTES - this.headFill, n - pos);
        chunk.copy(this.head, this.headFill, pos, pos + k);
        this.headFill += k;
        pos += k;
        if (this.headFill < HEADER_BYTES) return;
        this.headFill = 0;
        this.cur = decodeHeader(this.head);
        if (this.cur.bytes === 0) {
          this.emit(null);
          continue;
        }
        const into = this.place(this.cur);
        this.placed = into !== null;
        this.body = into ?? this.pool.take(this.cur.bytes);
        this.bodyFill = 0;
      }
      const body = this.body!;
      const k = Math.min(body.length - this.bodyFill, n - pos);
      chunk.copy(body, this.bodyFill, pos, pos + k);
      this.bodyFill += k;
      pos += k;
      if (this.bodyFill === body.length) this.emit(body);
    }
  }

  private emit(body: Buffer | null): void {
    const h = this.cur!;
    this.cur = null;
    this.body = null;
    this.bodyFill = 0;
    if (body === null) this.onFrame({ h, payload: EMPTY_PAYLOAD });
    else if (this.placed) this.onFrame({ h, payload: [body], placed: true });
    else this.onFrame({ h, payload: [body], recycle: () => this.pool.give(body) });
  }
}
