// The one-rank contract on the webgpu backend: a tiny model trained a few steps through
// initialize() with config "backend": "webgpu" gives the wasm backend's losses. On lavapipe in
// CI (a software adapter: correctness only). Skips, with the reason in the suite name, where
// there is no WebGPU adapter; never passes without running.
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { describe, expect, it } from 'vitest';
import { gpuSkipReason, gpuTitle } from '../../inference/webgpu/gpu_available.ts';

const FIXTURE = 'test/runtime/backend/fixtures/webgpu_losses.ts';
const STEPS = 4;

interface Run {
  backend: string;
  losses: number[];
  evalLoss: number;
  tokens: number[][];
  profile: { name: string; flops: number }[];
  syncEval: string;
}

async function train(backend: 'wasm' | 'webgpu'): Promise<Run> {
  const { stdout } = await promisify(execFile)('node', ['--import', './bin/register.js', FIXTURE, backend, String(STEPS)], {
    encoding: 'utf8',
    timeout: 180_000,
    env: { ...process.env, DS_LOG_LEVEL: 'warn', DS_BACKEND: '' },
  });
  return JSON.parse(stdout.split('\n').find((l) => l.startsWith('{'))!) as Run;
}

const relDiff = (a: number[], b: number[]) => Math.max(...a.map((x, i) => Math.abs(x - b[i]!) / Math.abs(b[i]!)));

describe.skipIf(gpuSkipReason !== null)(gpuTitle('training on the webgpu backend (one rank)'), () => {
  it(`${STEPS} steps (AdamW, warm-up, clipping, 2 micro-batches a step), evalBatch and generateAsync give the wasm backend's numbers`, async () => {
    const [wasm, gpu] = await Promise.all([train('wasm'), train('webgpu')]);
    expect([wasm.backend, gpu.backend]).toEqual(['wasm', 'webgpu']);
    expect(gpu.losses).toHaveLength(STEPS);
    expect(wasm.losses[STEPS - 1]!).toBeLessThan(wasm.losses[0]!); // the steps moved the model
    // Tolerance 1e-5 relative on every loss and the eval loss (measured on lavapipe: ~1e-7).
    expect(relDiff(gpu.losses, wasm.losses)).toBeLessThan(1e-5);
    expect(relDiff([gpu.evalLoss], [wasm.evalLoss])).toBeLessThan(1e-5);
    expect(gpu.tokens).toEqual(wasm.tokens);
    // The profiler ran (its FLOP counts follow the kernels each backend ran, fused on wasm, so only the layers compare).
    expect(gpu.profile.map((l) => l.name)).toEqual(wasm.profile.map((l) => l.name));
    expect(gpu.profile.filter((l) => l.flops > 0).length).toBeGreaterThan(0);
    expect(Number(wasm.syncEval)).toBeGreaterThan(0);
    expect(gpu.syncEval).toBe('Engine.evalLoss reads tensors synchronously, which the webgpu backend cannot do in Node; use Engine.evalBatch(), which runs on every backend');
  }, 240_000);
});
