/**
 * Frames from one peer for one (group, channel), in arrival order. TCP keeps a peer's frames
 * in order and each group runs one collective at a time, so one waiter at most.
 */
import { assert } from '../../errors.ts';
import type { Frame } from './frame.ts';

export class Mailbox {
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
