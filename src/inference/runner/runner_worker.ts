/**
 * A runner worker thread: a ModelRunner over the main runner's KV pools (the shared wasm memory),
 * with its own copy of the weights on its own tfjs backend. It serves one job at a time, in
 * lockstep with the main thread (runner_threads.ts has the protocol): wait for the job counter to
 * move, take the job from the port, run it, post the logits, publish the counter as done.
 */
import { receiveMessageOnPort, workerData, type MessagePort } from 'node:worker_threads';
import type { BackendName } from '../../runtime/backend/index.ts';
import { initBackend } from '../../runtime/backend/index.ts';
import type { RunnerBatch } from './batch.ts';
import { ModelRunner, type ModelRunnerOptions, type RunnerModel } from './model_runner.ts';
import { JOB, DONE, STOP, type WorkerReply } from './runner_threads.ts';

interface Init {
  readonly model: RunnerModel;
  readonly options: ModelRunnerOptions;
  readonly backend: BackendName;
  readonly ctrl: Int32Array;
  readonly port: MessagePort;
}

const { model, options, backend, ctrl, port } = workerData as Init;
let runner: ModelRunner | null = null;
try {
  await initBackend({ force: backend });
  runner = new ModelRunner(model, options);
  port.postMessage({ ready: true } satisfies WorkerReply);
} catch (e) {
  port.postMessage({ error: e instanceof Error ? (e.stack ?? e.message) : String(e) } satisfies WorkerReply);
}
Atomics.store(ctrl, DONE, 0);
Atomics.notify(ctrl, DONE);

let seen = 0;
while (runner) {
  Atomics.wait(ctrl, JOB, seen);
  seen = Atomics.load(ctrl, JOB);
  if (seen === STOP) break;
  const msg = receiveMessageOnPort(port);
  let reply: WorkerReply;
  try {
    if (!msg) throw new Error('runner worker: woken without a job');
    const logits = runner.execute(msg.message as RunnerBatch);
    reply = { logits };
  } catch (e) {
    reply = { error: e instanceof Error ? (e.stack ?? e.message) : String(e) };
  }
  port.postMessage(reply);
  Atomics.store(ctrl, DONE, seen);
  Atomics.notify(ctrl, DONE);
}
runner?.dispose();
port.close();
