/**
 * A runner worker thread: a RunnerCore over the main runner's SharedArena (weights, KV pools),
 * with activations of its own. It serves one job at a time, in lockstep with the main thread
 * (runner_threads.ts has the protocol): wait for the job counter to move, take the job from the
 * port, run it, post the logits, publish the counter as done. A product posted for row splitting
 * is claimed chunk by chunk from the runner's RowTeam instead.
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import { SharedArena } from '../wasm/arena.ts';
import type { RunnerBatch } from './batch.ts';
import { RunnerCore, type RunnerLayout } from './runner_core.ts';
import { RowTeam } from './row_team.ts';
import { DONE, isRowPost, JOB, spinWhile, STOP, type WorkerReply } from './runner_threads.ts';

interface Init {
  readonly memory: WebAssembly.Memory;
  readonly layout: RunnerLayout;
  readonly maxRows: number;
  readonly team: SharedArrayBuffer;
  readonly ctrl: Int32Array;
  readonly port: MessagePort;
}

const { memory, layout, maxRows, team: teamBuffer, ctrl, port } = workerData as Init;
const team = new RowTeam(teamBuffer);
const describe = (e: unknown) => (e instanceof Error ? (e.stack ?? e.message) : String(e));
let core: RunnerCore | null = null;
try {
  core = new RunnerCore(SharedArena.attach(memory), layout, maxRows);
  port.postMessage({ job: 0, ready: true } satisfies WorkerReply);
} catch (e) {
  port.postMessage({ job: 0, error: describe(e) } satisfies WorkerReply);
}
Atomics.store(ctrl, DONE, 0);
Atomics.notify(ctrl, DONE);

let seen = 0;
while (core) {
  if (!spinWhile(ctrl, JOB, seen)) Atomics.wait(ctrl, JOB, seen);
  seen = Atomics.load(ctrl, JOB);
  if (seen === STOP) break;
  if (isRowPost(seen)) {
    team.work(core.runChunk);
    continue;
  }
  const msg = receiveMessageOnPort(port);
  let reply: WorkerReply;
  try {
    if (!msg) throw new Error('runner worker: woken without a job');
    reply = { job: seen, logits: core.forward(msg.message as RunnerBatch) };
  } catch (e) {
    reply = { job: seen, error: describe(e) };
  }
  port.postMessage(reply);
  Atomics.store(ctrl, DONE, seen);
  Atomics.notify(ctrl, DONE);
}
port.close();
