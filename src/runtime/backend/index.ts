export { initBackend, type BackendInfo, type BackendName, type BackendAttempt } from './select.ts';
export { registerWasmKernels, registerGradients, WASM_KERNELS, GRADIENTS } from './kernels/index.ts';
export { measureMatmulGflops, type MatmulBenchOptions } from './bench.ts';
export { buildBackendReport, type BackendReport } from './report.ts';
