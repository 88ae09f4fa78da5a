/**
 * A runner worker thread: a RunnerCore over the main runner's SharedArena (weights, KV pools),
 * with activations of its own. It serves one job at a time, in lockstep with the main thread
 * (runner_threads.ts has the protocol): wait for the job counter to move, take the job from the
 * port, run it, post the logits, publish the counter as done.
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { SharedArena } from '../wasm/arena.ts';
import type { RunnerBatch } from './batch.ts';
import { RunnerCore, type RunnerLayout } from './runner_core.ts';
import { ARGS, DONE, FAILED, JOB, MAIN_ASLEEP, OP, OP_GEMM, SPIN, STOP, WORKER_ASLEEP, type WorkerReply } from './runner_threads.ts';

interface Init {
  readonly memory: WebAssembly.Memory;
  readonly layout: RunnerLayout;
  readonly ctrl: Int32Array;
  readonly port: MessagePort;
}

const { memory, layout, ctrl, port } = workerData as Init;
const describe = (e: unknown) => (e instanceof Error ? (e.stack ?? e.message) : String(e));
let core: RunnerCore | null = null;
try {
  core = new RunnerCore(SharedArena.attach(memory), layout);
  port.postMessage({ ready: true } satisfies WorkerReply);
} catch (e) {
  port.postMessage({ error: describe(e) } satisfies WorkerReply);
}
Atomics.store(ctrl, DONE, 0);
Atomics.notify(ctrl, DONE);

let seen = 0;
while (core) {
  // a short spin (the gemm slices of a decode step come tens of microseconds apart), then sleep
  for (let i = 0; i < SPIN && Atomics.load(ctrl, JOB) === seen; i++);
  if (Atomics.load(ctrl, JOB) === seen) {
    Atomics.store(ctrl, WORKER_ASLEEP, 1);
    Atomics.wait(ctrl, JOB, seen); // returns at once if the job came after the flag's check
    Atomics.store(ctrl, WORKER_ASLEEP, 0);
  }
  seen = Atomics.load(ctrl, JOB);
  if (seen === STOP) break;
  try {
    if (ctrl[OP] === OP_GEMM) {
      const a = (i: number) => ctrl[ARGS + i]!; // aOff, packed offset, K, N, cOff, M, n0, n1
      core.gemmSlice(a(0), { offset: a(1), K: a(2), N: a(3) }, a(4), a(5), a(6), a(7));
    } else {
      const msg = receiveMessageOnPort(port);
      if (!msg) throw new Error('runner worker: woken without a job');
      port.postMessage({ logits: core.forward(msg.message as RunnerBatch) } satisfies WorkerReply);
    }
  } catch (e) {
    port.postMessage({ error: describe(e) } satisfies WorkerReply);
    ctrl[FAILED] = 1;
  }
  Atomics.store(ctrl, DONE, seen);
  if (Atomics.load(ctrl, MAIN_ASLEEP)) Atomics.notify(ctrl, DONE);
}
port.close();
