/**
 * The second core (and more): a model runner's batch split by sequence over worker threads, in
 * the way data-parallel ranks split a training batch. Each worker runs the same kernels over the
 * runner's SharedArena (weights and KV pools shared, activations its own), so any sequence can go
 * to any thread at any step, and nothing is copied but the batch's index arrays and the sampled
 * rows' logits.
 *
 * Two kinds of job. A batch share (large batches: each thread runs whole sequences through every
 * layer) travels as a message. A gemm slice (small batches, too few sequences to split: each
 * thread computes some columns of one product, tensor-parallel) travels as words in the control
 * array, so that the 20-odd slices of a decode step cost a few microseconds each.
 *
 * Protocol, per worker, over an Int32Array on a SharedArrayBuffer and a MessagePort:
 *   main:   [batch: port.postMessage(job) | gemm: ctrl[ARGS..] = operands]; ctrl[OP] = kind;
 *           ctrl[JOB] = n; notify                                      (jobs numbered 1, 2, …)
 *   worker: wait ctrl[JOB] ≠ last; run it; [batch: postMessage(reply) | gemm: on error only];
 *           ctrl[DONE] = n; notify
 *   main:   runs its own share meanwhile, then waits ctrl[DONE] = n and takes the reply synchronously.
 * Both sides spin briefly before sleeping on the futex, and flag when they sleep so that the other
 * side calls Atomics.notify (a syscall, ~10 µs here) only then: a slice takes tens of
 * microseconds, and a futex round trip about as long. Everything is synchronous (Atomics.wait, receiveMessageOnPort), so
 * ModelRunner.execute stays a plain function; the atomics order each thread's writes before the
 * reads that follow.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { DeepscaleError } from '../../errors.ts';
import type { PackedMatrix } from './gemm.ts';
import type { RunnerLayout } from './runner_core.ts';

export const JOB = 0;
export const DONE = 1;
/** The kind of the current job: OP_BATCH or OP_GEMM. */
export const OP = 2;
/** Set by the worker when the job failed (its error then waits on the port). */
export const FAILED = 3;
/** 1 while the worker sleeps on ctrl[JOB] / the main thread on ctrl[DONE]: only then is a notify (a syscall) needed. */
export const WORKER_ASLEEP = 4;
export const MAIN_ASLEEP = 5;
/** A gemm slice's operands: aOff, packed offset, K, N, cOff, M, n0, n1. */
export const ARGS = 6;
export const OP_BATCH = 1;
export const OP_GEMM = 2;
/** ctrl[JOB] value that stops a worker. */
export const STOP = -1;
const STARTING = -2;
/** Atomics.load polls before a waiting side sleeps on the futex (a few hundred microseconds). */
export const SPIN = 200_000;

export type WorkerReply = { ready: true } | { logits: Float32Array } | { error: string };

/** How long the main thread waits for a worker (start, or one job) before giving up. */
const TIMEOUT_MS = 300_000;

const REGISTER = fileURLToPath(new URL('../../../bin/register.js', import.meta.url));
const ENTRY = new URL('./runner_worker.ts', import.meta.url);

export class RunnerWorker {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ctrl: Int32Array;
  private jobs = 0;
  private pending = false;

  constructor(readonly index: number, memory: WebAssembly.Memory, layout: RunnerLayout) {
    this.ctrl = new Int32Array(new SharedArrayBuffer(4 * (ARGS + 8)));
    this.ctrl[DONE] = STARTING;
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const workerData = { memory, layout, ctrl: this.ctrl, port: port2 };
    this.worker = new Worker(ENTRY, { workerData, transferList: [port2], execArgv: ['--import', REGISTER] });
    this.worker.unref();
    this.waitDone(STARTING, 'start');
    const reply = this.take('start');
    if (!('ready' in reply)) throw this.failure('start', reply);
  }

  /** Hands the worker a batch; collect its logits with finish(). */
  start(batch: unknown): void {
    this.port.postMessage(batch);
    this.post(OP_BATCH);
  }

  /** Waits for the job given to start() and returns its logits. */
  finish(): Float32Array {
    this.await();
    const reply = this.take(`job ${this.jobs}`);
    if (!('logits' in reply)) throw this.failure(`job ${this.jobs}`, reply);
    return reply.logits;
  }

  /** Hands the worker columns n0..n1 of c[M, N] = a · w (offsets in the runner's arena); wait with finishGemm(). */
  startGemm(aOff: number, w: PackedMatrix, cOff: number, M: number, n0: number, n1: number): void {
    this.ctrl.set([aOff, w.offset, w.K, w.N, cOff, M, n0, n1], ARGS);
    this.post(OP_GEMM);
  }

  finishGemm(): void {
    this.await();
  }

  /** Stops the thread (after its current job, if any). */
  stop(): void {
    if (this.pending) this.await();
    Atomics.store(this.ctrl, JOB, STOP);
    Atomics.notify(this.ctrl, JOB); // always: the worker may be about to sleep
    this.port.close();
  }

  private post(op: number): void {
    this.ctrl[OP] = op;
    this.ctrl[FAILED] = 0;
    this.pending = true;
    Atomics.store(this.ctrl, JOB, ++this.jobs);
    // A worker not flagged asleep is spinning, or will see the new value in its Atomics.wait.
    if (Atomics.load(this.ctrl, WORKER_ASLEEP)) Atomics.notify(this.ctrl, JOB);
  }

  /** Waits for the posted job; a failed job's error is thrown here. */
  private await(): void {
    this.pending = false;
    this.waitDone(this.jobs - 1, `job ${this.jobs}`);
    if (this.ctrl[FAILED]) throw this.failure(`job ${this.jobs}`, this.take(`job ${this.jobs}`));
  }

  /** Blocks until ctrl[DONE] moves off `from`: a short spin, then Atomics.wait (no event loop needed). */
  private waitDone(from: number, what: string): void {
    for (let i = 0; i < SPIN; i++) if (Atomics.load(this.ctrl, DONE) !== from) return;
    const deadline = Date.now() + TIMEOUT_MS;
    while (Atomics.load(this.ctrl, DONE) === from) {
      const left = deadline - Date.now();
      if (left <= 0) throw new DeepscaleError('runner_worker_error', `runner worker ${this.index} did not answer (${what}) within ${TIMEOUT_MS / 1000} s`);
      Atomics.store(this.ctrl, MAIN_ASLEEP, 1);
      Atomics.wait(this.ctrl, DONE, from, Math.min(left, 1000));
      Atomics.store(this.ctrl, MAIN_ASLEEP, 0);
    }
  }

  private take(what: string): WorkerReply {
    const msg = receiveMessageOnPort(this.port);
    if (!msg) throw new DeepscaleError('runner_worker_error', `runner worker ${this.index} signalled ${what} without a reply`);
    return msg.message as WorkerReply;
  }

  private failure(what: string, reply: WorkerReply): DeepscaleError {
    return new DeepscaleError('runner_worker_error', `runner worker ${this.index} failed (${what}): ${'error' in reply ? reply.error : JSON.stringify(reply)}`);
  }
}
