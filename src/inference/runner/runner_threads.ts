/**
 * The second core (and more): a model runner's batch split by sequence over worker threads, in
 * the way data-parallel ranks split a training batch. Each worker runs the same kernels over the
 * runner's SharedArena (weights and KV pools shared, activations its own), so any sequence can go
 * to any thread at any step, and nothing is copied but the batch's index arrays and the sampled
 * rows' logits.
 *
 * Protocol, per worker, over a 2-word Int32Array on a SharedArrayBuffer and a MessagePort:
 *   main:   port.postMessage(job); ctrl[JOB] = n; notify     (n = 2·k for the k-th post: a batch)
 *   worker: wait ctrl[JOB] ≠ last; receiveMessageOnPort → execute → postMessage(reply); ctrl[DONE] = n; notify
 *   main:   runs its own share meanwhile, then waits ctrl[DONE] = n and takes the reply synchronously.
 * A post with n odd (2·k + 1) is a product split by rows instead (row_team.ts): the worker claims
 * chunks of it from the runner's RowTeam, with no message and no reply (ctrl[DONE] stays).
 * Everything is synchronous (Atomics.wait, receiveMessageOnPort), so ModelRunner.execute stays a
 * plain function; the atomics order the KV writes of one step before the reads of the next.
 */
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import { fileURLToPath } from 'node:url';
import { assert, DeepscaleError } from '../../errors.ts';
import type { RunnerLayout } from './runner_core.ts';

export const JOB = 0;
export const DONE = 1;
/** ctrl[JOB] value that stops a worker. */
export const STOP = -1;
const STARTING = -2;

/** What a worker posts back, tagged with the job it answers (0: start). */
export type WorkerReply = { job: number } & ({ ready: true } | { logits: Float32Array } | { error: string });

/** Posts are numbered 1 … JOB_WRAP, then start over (ctrl[JOB] = 2·k + kind: never STOP or STARTING, whatever the uptime). */
const JOB_WRAP = 2 ** 29;
/** Whether a ctrl[JOB] value posts a row-split product (else a batch). */
export const isRowPost = (job: number) => (job & 1) === 1;

/**
 * How long a waiting side spins (polling the control word) before it sleeps on the futex. A
 * sleeping thread's vCPU may halt, and waking it costs from tens of microseconds to milliseconds
 * in a VM, far more than a step's handoff should (measured: decode at batch 8 on 2 threads went
 * from ~3100 to ~3700-4200 tok/s with the spin). A serving loop posts the next job within this
 * window, so in steady state nobody sleeps; an idle runner sleeps after it.
 */
export const SPIN_MS = 5;

/** Polls `ctrl[index]` until it differs from `value` or SPIN_MS pass; whether it moved. */
export function spinWhile(ctrl: Int32Array, index: number, value: number): boolean {
  const until = performance.now() + SPIN_MS;
  for (;;) {
    for (let i = 0; i < 1024; i++) if (Atomics.load(ctrl, index) !== value) return true;
    if (performance.now() > until) return false;
  }
}

/** How long the main thread waits for a worker's job, and for a worker to start, before giving up. */
const TIMEOUT_MS = 300_000;
const START_TIMEOUT_MS = 60_000;

const REGISTER = fileURLToPath(new URL('../../../bin/register.js', import.meta.url));
/** Plain JS: it reports a failure to load runner_worker.ts itself, which the worker cannot. */
const ENTRY = new URL('./runner_worker_boot.mjs', import.meta.url);

export class RunnerWorker {
  private readonly worker: Worker;
  private readonly port: MessagePort;
  private readonly ctrl: Int32Array;
  /** Posts so far (wrapping), the last batch job posted (0: none yet), and the value ctrl[DONE] holds until the worker finishes it. */
  private posts = 0;
  private job = 0;
  private lastDone = 0;
  private pending = false;

  /** Starts the thread; with `wait` false, await ready() before the first job. */
  constructor(readonly index: number, memory: WebAssembly.Memory, layout: RunnerLayout, maxRows: number, team: SharedArrayBuffer, wait = true) {
    this.ctrl = new Int32Array(new SharedArrayBuffer(8));
    this.ctrl[DONE] = STARTING;
    const { port1, port2 } = new MessageChannel();
    this.port = port1;
    const workerData = { memory, layout, maxRows, team, ctrl: this.ctrl, port: port2 };
    this.worker = new Worker(ENTRY, { workerData, transferList: [port2], execArgv: ['--import', REGISTER] });
    // Seen only once this thread's event loop runs (it blocks meanwhile); kept so that a dying worker is not an uncaught error.
    this.worker.on('error', () => {});
    this.worker.unref();
    if (wait) {
      this.waitDone(STARTING, 'start', START_TIMEOUT_MS);
      this.checkStarted();
    }
  }

  /** Resolves once the worker is up (the event loop keeps running meanwhile); rejects with its start error. */
  async ready(): Promise<void> {
    const deadline = Date.now() + START_TIMEOUT_MS;
    while (Atomics.load(this.ctrl, DONE) === STARTING) {
      if (Date.now() > deadline) throw new DeepscaleError('runner_worker_error', `runner worker ${this.index} did not answer (start) within ${START_TIMEOUT_MS / 1000} s`);
      await new Promise((resolve) => setTimeout(resolve, 5));
    }
    this.checkStarted();
  }

  private checkStarted(): void {
    const reply = this.take('start');
    if (!('ready' in reply)) throw this.failure('start', reply);
  }

  /** Hands the worker a batch; collect its logits with finish(). */
  start(batch: unknown): void {
    this.port.postMessage(batch);
    this.pending = true;
    this.job = this.post(0);
  }

  /** Tells the worker that a product is posted on the runner's RowTeam (it returns to waiting once none of its chunks are left). */
  wake(): void {
    // A worker with a batch pending has not necessarily read its post yet: overwriting it would lose the batch.
    assert(!this.pending, () => `runner worker ${this.index}: woken for a product while its batch job ${this.job} is pending`);
    this.post(1);
  }

  private post(kind: 0 | 1): number {
    this.posts = (this.posts % JOB_WRAP) + 1;
    const n = 2 * this.posts + kind;
    Atomics.store(this.ctrl, JOB, n);
    Atomics.notify(this.ctrl, JOB);
    return n;
  }

  /** Waits for the job given to start() and returns its logits. */
  finish(): Float32Array {
    this.pending = false;
    const what = `job ${this.job}`;
    this.waitDone(this.lastDone, what);
    this.lastDone = this.job;
    const reply = this.take(what);
    if (!('logits' in reply)) throw this.failure(what, reply);
    return reply.logits;
  }

  /** Stops the thread (after its current job, if any). */
  stop(): void {
    try {
      if (this.pending) this.finish();
    } catch {
      // stopping anyway: its error was (or will be) reported by the step that started it
    }
    Atomics.store(this.ctrl, JOB, STOP);
    Atomics.notify(this.ctrl, JOB);
    this.port.close();
  }

  /** Blocks until ctrl[DONE] moves off `from` (Atomics.wait: no event loop needed). */
  private waitDone(from: number, what: string, timeoutMs = TIMEOUT_MS): void {
    if (spinWhile(this.ctrl, DONE, from)) return;
    const deadline = Date.now() + timeoutMs;
    while (Atomics.load(this.ctrl, DONE) === from) {
      const left = deadline - Date.now();
      if (left <= 0) throw new DeepscaleError('runner_worker_error', `runner worker ${this.index} did not answer (${what}) within ${timeoutMs / 1000} s`);
      Atomics.wait(this.ctrl, DONE, from, Math.min(left, 1000));
    }
  }

  /** The reply to the current job; replies to earlier jobs still queued (a step that failed half-way) are dropped. */
  private take(what: string): WorkerReply {
    for (;;) {
      const msg = receiveMessageOnPort(this.port);
      if (!msg) throw new DeepscaleError('runner_worker_error', `runner worker ${this.index} signalled ${what} without a reply`);
      const reply = msg.message as WorkerReply;
      if (reply.job === this.job) return reply;
    }
  }

  private failure(what: string, reply: WorkerReply): DeepscaleError {
    return new DeepscaleError('runner_worker_error', `runner worker ${this.index} failed (${what}): ${'error' in reply ? reply.error : JSON.stringify(reply)}`);
  }
}
