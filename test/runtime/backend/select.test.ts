import os from 'node:os';
import { createRequire } from 'node:module';
import { describe, expect, it } from 'vitest';
import * as tf from '@tensorflow/tfjs-core';
import { buildBackendReport, initBackend } from '../../../src/runtime/backend/index.ts';
import { DeepscaleError } from '../../../src/errors.ts';

const require = createRequire(import.meta.url);

// One process, one live backend: these run in order and build on each other.
describe('initBackend', () => {
  it('a forced backend that cannot load throws, naming each package and why', async () => {
    const err = await initBackend({ force: 'tensorflow' }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(DeepscaleError);
    expect((err as Error).message).toMatch(/tfjs-node-gpu is not installed.*tfjs-node is not installed/);
  });

  it('an unknown backend name is refused', async () => {
    await expect(initBackend({ force: 'metal' as never })).rejects.toThrow(/unknown backend 'metal'.*tensorflow, webgpu, wasm or cpu/);
  });

  it('picks wasm when tensorflow is missing, says why, and reports SIMD and its threads', async () => {
    const info = await initBackend();
    expect(info.name).toBe('wasm');
    expect(tf.getBackend()).toBe('wasm');
    expect(info.tried.map((t) => [t.name, t.ok])).toEqual([['tensorflow (tfjs-node-gpu)', false], ['tensorflow (tfjs-node)', false], ['webgpu', false], ['wasm', true]]);
    expect(info.tried[0]!.why).toMatch(/not installed/);
    expect(info.tried[2]!.why).toMatch(/not in the automatic order.*DS_BACKEND=webgpu/);
    expect(info.simd).toBe(await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT'));
    // One XNNPACK thread, or every core when the native sgemm carries the matmuls.
    expect(info.threads).toBe(info.native.live ? Math.max(1, Math.floor(os.availableParallelism() / (Number(process.env.LOCAL_SIZE) || 1))) : 1);
    expect(info.native.why).toMatch(info.native.live ? /loaded native\/build\/ds_native\.node \((avx512|avx2\+fma|c), \d+ threads\)/ : /not built|disabled|failed/);
    expect(info.versions['@tensorflow/tfjs-core']).toBe((require('@tensorflow/tfjs-core/package.json') as { version: string }).version);
  });

  it('is idempotent, and refuses to switch to another backend once one is live', async () => {
    const a = await initBackend();
    expect(await initBackend({ force: 'wasm' })).toBe(a);
    await expect(initBackend({ force: 'cpu' })).rejects.toThrow(/'cpu' was asked for, but 'wasm' is already live/);
  });

  it('ds report: the webgpu training backend is not live, says why, and what it would run on here (or why it could not)', async () => {
    const r = await buildBackendReport();
    expect(r.webgpu.live).toBe(false);
    expect(r.webgpu.why).toMatch(/^not in the automatic order.*; (it would run on .+|and it could not run here: .+)$/);
    expect(r.tried.find((t) => t.name === 'webgpu')!.why).toBe(r.webgpu.why);
  });

  it('ds report data: live backend, deepscale kernels, versions', async () => {
    const r = await buildBackendReport();
    expect(r.backend).toBe('wasm');
    const native = ['BatchMatMul', 'DsRmsNorm', 'DsRmsNormGrad', 'DsSwiGlu', 'DsSwiGluGrad', 'DsCrossEntropy', 'DsCrossEntropyGrad', 'DsAttention', 'DsAttentionGrad', 'Add'];
    expect(r.kernels.map((k) => k.kernel)).toEqual([...(r.native.live ? native.map((k) => `native:${k}`) : []),
      'wasm:UnsortedSegmentSum', 'wasm:BatchMatMul', 'wasm:Einsum', 'wasm:Identity', 'wasm:GatherV2', 'grad:Einsum']);
    expect(r.versions.deepscale).toBe((require('../../../package.json') as { version: string }).version);
    expect(JSON.parse(JSON.stringify(r))).toEqual(r);
  });
});
