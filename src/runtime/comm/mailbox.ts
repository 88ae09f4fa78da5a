/**
 * Frames from one peer for one (group, channel), in arrival order. TCP keeps a peer's frames
 * in order and each group runs one collective at a time, so one waiter at most.
 *
 * The running collective may also post destinations for frames it expects (by chunk offset):
 * a frame whose header arrives after the post, and is exactly the one expected, is read
 * straight into that memory instead of a pooled buffer.
 */
import { assert } from '../../errors.ts';
import type { Frame, Header } from './frame.ts';

interface Sink {
  into: Buffer;
  /** Is this header the frame expected here (collective, offset, length)? */
  expects: (h: Header) => boolean;
}

export class Mailbox {
  private readonly sinks = new Map<number, Sink>();

  private readonly queue: Frame[] = [];
  private head = 0;
  private waiter: { resolve: (f: Frame) => void; reject: (e: Error) => void } | null = null;
  private closed: Error | null = null;

  push(f: Frame): void {
    if (this.waiter) {
      const w = this.waiter;
      this.waiter = null;
      w.resolve(f);
    } else {
      this.queue.push(f);
    }
  }

  /** The next frame, waiting for it if none is queued. */
  take(): Promise<Frame> | Frame {
    if (this.head < this.queue.length) {
      const f = this.queue[this.head++]!;
      if (this.head === this.queue.length) {
        this.queue.length = 0;
        this.head = 0;
      }
      return f;
    }
    if (this.closed) throw this.closed;
    assert(!this.waiter, 'two waiters on one mailbox');
    return new Promise((resolve, reject) => {
      this.waiter = { resolve, reject };
    });
  }

  /** Frame `offset` may be read into `into` if its header has not arrived yet. */
  post(offset: number, into: Buffer, expects: (h: Header) => boolean): void {
    this.sinks.set(offset, { into, expects });
  }

  /** Called by the reader at a header: the posted destination for it, used at most once. */
  claim(h: Header): Buffer | null {
    const sink = this.sinks.get(h.offset);
    if (!sink || !sink.expects(h)) return null;
    this.sinks.delete(h.offset);
    return sink.into;
  }

  /** The collective ended: nothing more may land in its memory. */
  unpostAll(): void {
    this.sinks.clear();
  }

  /** Rejects the current waiter (timeout, abort); queued frames stay. */
  cancel(err: Error): void {
    const w = this.waiter;
    this.waiter = null;
    w?.reject(err);
  }

  /** The peer is gone: frames already queued can still be taken, then err. */
  close(err: Error): void {
    this.closed = err;
    this.cancel(err);
  }

  get pending(): number {
    return this.queue.length - this.head;
  }
}
