export { initBackend, type BackendInfo, type BackendName, type BackendAttempt } from './select.ts';
export { registerWasmKernels } from './kernels/index.ts';
