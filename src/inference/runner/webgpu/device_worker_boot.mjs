// Entry of a WebGPU runner's device thread (see protocol.ts). Plain JS so that a failure to load
// device_worker.ts (a missing file, a syntax error, the webgpu package) is answered as a failed
// first job, instead of leaving the main thread waiting until its timeout.
import { workerData } from 'node:worker_threads';

try {
  await import('./device_worker.ts');
} catch (e) {
  const onMessage = (msg) => {
    workerData.port.postMessage({ job: msg.job, ok: false, error: `the WebGPU device thread could not start: ${e instanceof Error ? e.message : String(e)}`, device: true });
    Atomics.store(workerData.ctrl, 0, msg.job);
    Atomics.notify(workerData.ctrl, 0);
  };
  workerData.port.on('message', onMessage);
}
