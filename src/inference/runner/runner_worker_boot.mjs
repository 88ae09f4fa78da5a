// Entry of a runner worker thread (see runner_threads.ts). Plain JS so that it can report a
// failure to load runner_worker.ts (a missing file, a syntax error) the way the worker reports
// its own errors: a { job: 0, error } reply, then DONE = 0, instead of leaving the main thread
// blocked until its start timeout.
import { workerData } from 'node:worker_threads';

const DONE = 1; // runner_threads.ts

try {
  await import('./runner_worker.ts');
} catch (e) {
  workerData.port.postMessage({ job: 0, error: e instanceof Error ? (e.stack ?? e.message) : String(e) });
  Atomics.store(workerData.ctrl, DONE, 0);
  Atomics.notify(workerData.ctrl, DONE);
}
