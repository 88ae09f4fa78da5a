/**
 * One product's output rows split over the runner's threads, as llama.cpp splits each matrix
 * product: a batch of one sequence (decode at batch 1, a long prefill) cannot be split by
 * sequence, but every product in it can be split by the weight's rows. The main thread posts a
 * product; every thread, the main one included, claims chunks of rows until none are left; the
 * main thread then waits until every chunk is done. A thread that comes late (descheduled, or
 * asleep) finds nothing left and costs nothing: the others have taken its chunks.
 *
 * Shared words (one SharedArrayBuffer per runner, seen by every thread):
 *   i32 [CLAIM]   chunks not yet claimed (a thread claims one by compare-and-swap: v → v − 1)
 *   i32 [DONE]    chunks finished
 *   i32 [FAILED]  1 once a chunk threw (the main thread raises it after the product)
 *   f64 args      the product: matrix index, a, c, M, q8 offsets, chunk count and rows
 * The main thread writes args, resets DONE, then stores CLAIM; a thread reads args only after
 * its claim succeeded. That claim is of the current product (CLAIM > 0 means it is not finished,
 * so args are not rewritten until this chunk is done), so args are never read half-written.
 */
import { DeepscaleError } from '../../errors.ts';

const CLAIM = 0;
const DONE = 1;
const FAILED = 2;
const WORDS = 4;
const ARGS = 8;

/** A product as the threads see it: which matrix (RunnerCore's index), where its input and output are. */
export interface RowJob {
  readonly matrix: number;
  readonly aOff: number;
  readonly cOff: number;
  readonly M: number;
  readonly q8Off: number;
  readonly chunks: number;
  readonly chunkRows: number;
}

/** Runs rows [r0, r1) of a job's product on the calling thread. */
export type ChunkRunner = (job: RowJob, r0: number, r1: number) => void;

/** How long the main thread waits for the other threads' chunks of one product. */
const TIMEOUT_MS = 300_000;
/**
 * When the machine has fewer free cores than the runner has threads, the other threads come late
 * or are descheduled mid-chunk, and splitting costs more than it saves: their spinning takes CPU
 * time from this thread, and a descheduled chunk stalls the product (measured: batch-1 decode at
 * 0.5× one thread on a loaded 2-core VM, 1.4-1.8× when both cores were free). So the main thread
 * watches: a wait for the last chunks of STALL_MS beyond twice its own time per chunk, or the others doing
 * under half their even share of the chunks over WINDOW products, pauses splitting for PAUSE_MS
 * (the others fall asleep meanwhile); then it is tried again.
 */
const STALL_MS = 1;
const WINDOW = 64;
const PAUSE_MS = 250;

export class RowTeam {
  private readonly words: Int32Array;
  private readonly args: Float64Array;
  /** performance.now() before which the main thread does not split (a stall was seen). */
  private pausedUntil = 0;
  /** This window's products, chunks, and chunks the main thread ran itself. */
  private window = { products: 0, chunks: 0, mine: 0 };
  /** Times splitting was paused, since the start. */
  pauses = 0;

  /** `buffer`: the runner's shared words (RowTeam.buffer()), the same on every thread. */
  constructor(readonly buffer: SharedArrayBuffer) {
    this.words = new Int32Array(buffer, 0, WORDS);
    this.args = new Float64Array(buffer, 4 * WORDS, ARGS);
  }

  static buffer(): SharedArrayBuffer {
    return new SharedArrayBuffer(4 * WORDS + 8 * ARGS);
  }

  /** Whether splitting is on now (off for a while after a stall). */
  get active(): boolean {
    return this.pausedUntil === 0 || performance.now() >= this.pausedUntil;
  }

  private pause(now: number): void {
    this.pausedUntil = now + PAUSE_MS;
    this.pauses++;
    this.window = { products: 0, chunks: 0, mine: 0 };
  }

  /**
   * The main thread's side: publishes `job`, wakes the others (`wake`), runs chunks here until
   * none are left, then waits for the rest. Throws if any thread's chunk failed.
   */
  run(job: RowJob, wake: () => void, chunk: ChunkRunner, N: number, threads: number): void {
    const a = this.args;
    a[0] = job.matrix;
    a[1] = job.aOff;
    a[2] = job.cOff;
    a[3] = job.M;
    a[4] = job.q8Off;
    a[5] = job.chunks;
    a[6] = job.chunkRows;
    a[7] = N;
    Atomics.store(this.words, DONE, 0);
    Atomics.store(this.words, FAILED, 0);
    Atomics.store(this.words, CLAIM, job.chunks);
    wake();
    const t0 = performance.now();
    const mine = this.work(chunk);
    if (Atomics.load(this.words, DONE) !== job.chunks) {
      const t1 = performance.now();
      this.waitAll(job.chunks);
      const t2 = performance.now();
      // the others' last chunks may take up to a chunk's time (a 512-row prefill: milliseconds); beyond twice that, a thread stalled
      const perChunk = mine > 0 ? (t1 - t0) / mine : 0;
      if (t2 - t1 > STALL_MS + 2 * perChunk) this.pause(t2);
    }
    const w = this.window;
    w.products++, (w.chunks += job.chunks), (w.mine += mine);
    if (w.products === WINDOW) {
      // the others' even share is (threads − 1) / threads of the chunks
      if ((w.chunks - w.mine) * threads < 0.5 * (threads - 1) * w.chunks) this.pause(performance.now());
      else this.window = { products: 0, chunks: 0, mine: 0 };
    }
    if (Atomics.load(this.words, FAILED) !== 0) throw new DeepscaleError('runner_worker_error', `a runner thread failed on rows of product ${job.matrix} (${job.M} × ${N}); see its log`);
  }

  /** Any thread's side: claims and runs chunks of the current product until none are left; how many it ran. */
  work(chunk: ChunkRunner): number {
    let ran = 0;
    for (;;) {
      const left = Atomics.load(this.words, CLAIM);
      if (left <= 0) return ran;
      ran++;
      if (Atomics.compareExchange(this.words, CLAIM, left, left - 1) !== left) continue;
      const a = this.args;
      const job: RowJob = { matrix: a[0]!, aOff: a[1]!, cOff: a[2]!, M: a[3]!, q8Off: a[4]!, chunks: a[5]!, chunkRows: a[6]! };
      const N = a[7]!;
      const r0 = (job.chunks - left) * job.chunkRows;
      try {
        chunk(job, r0, Math.min(N, r0 + job.chunkRows));
      } catch {
        Atomics.store(this.words, FAILED, 1);
      }
      Atomics.add(this.words, DONE, 1);
      Atomics.notify(this.words, DONE);
    }
  }

  private waitAll(chunks: number): void {
    // Spin first (the others are mid-chunk, microseconds away), then sleep in short waits.
    for (let i = 0; i < 200_000; i++) if (Atomics.load(this.words, DONE) === chunks) return;
    const deadline = Date.now() + TIMEOUT_MS;
    for (;;) {
      const done = Atomics.load(this.words, DONE);
      if (done === chunks) return;
      if (Date.now() > deadline) throw new DeepscaleError('runner_worker_error', `runner threads did not finish a product's rows within ${TIMEOUT_MS / 1000} s (${done} of ${chunks} chunks)`);
      Atomics.wait(this.words, DONE, done, 10);
    }
  }
}

/**
 * Chunks for a product of N rows on `threads` threads: about four a thread (so a late thread's
 * share is taken by the others), of a multiple of 16 rows (the kernels walk 16 rows at a time; a
 * float32 panel is 8 columns).
 */
export function chunking(N: number, threads: number): { chunks: number; chunkRows: number } {
  const chunkRows = Math.max(16, Math.ceil(N / (4 * threads) / 16) * 16);
  return { chunks: Math.ceil(N / chunkRows), chunkRows };
}
