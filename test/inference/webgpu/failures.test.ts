/**
 * The WebGPU runner's refusals and failures are clear errors, before or instead of a hang: a
 * KV cache larger than the adapter can bind, host threads asked of a device runner, a device
 * thread that ends.
 */
import { describe, expect, it } from 'vitest';
import { ConfigError } from '../../../src/errors.ts';
import { AsyncLLMEngine } from '../../../src/inference/engine/index.ts';
import { pickAdapter } from '../../../src/inference/runner/webgpu/gpu.ts';
import { WebGpuRunner } from '../../../src/inference/runner/webgpu/webgpu_runner.ts';
import { GpuDeviceError } from '../../../src/inference/runner/webgpu/gpu_weights.ts';
import { tinyGguf } from '../engine/fixture.ts';
import { gpuSkipReason, gpuTitle } from './gpu_available.ts';

describe('WebGpuRunner refusals before any device work', () => {
  const fx = tinyGguf(5);
  it('host threads are a cpu-runner option', async () => {
    await expect(WebGpuRunner.create(fx.model, { numBlocks: 8, blockSize: 4, threads: 2, allowSoftware: true })).rejects.toThrow(ConfigError);
    await expect(WebGpuRunner.create(fx.model, { numBlocks: 8, blockSize: 4, threads: 2, allowSoftware: true })).rejects.toThrow(/threads: 2 host threads asked for, but the webgpu runner runs the model on the device/);
    fx.cleanup();
  });
});

describe.skipIf(gpuSkipReason !== null)(gpuTitle('WebGpuRunner failures'), () => {
  it('a KV cache past the adapter\'s storage binding fails the engine\'s load, naming the sizes', async () => {
    const fx = tinyGguf(5);
    const picked = await pickAdapter(true);
    const maxBinding = picked.adapter!.limits.maxStorageBufferBindingSize;
    const c = fx.model.config;
    const blockBytes = 4 * c.numKvHeads * 4 * c.headDim; // one layer's K, 4-token blocks
    const kvCacheMemory = (Math.floor(maxBinding / blockBytes) + 64) * blockBytes * 2 * c.numLayers;
    const load = AsyncLLMEngine.create(fx.model, { kvCacheMemory, blockSize: 4 }, (m, o) => WebGpuRunner.create(m, { ...o, allowSoftware: true }));
    await expect(load).rejects.toThrow(GpuDeviceError);
    await expect(load).rejects.toThrow(/a layer's K pool \(\d+ blocks × \d+ B = \d+ B\) exceeds the adapter's max storage buffer binding of \d+ B; lower --kv-cache-memory/);
    fx.cleanup();
  });
});
