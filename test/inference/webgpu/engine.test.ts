/**
 * The engine on the WebGPU runner: the scheduler, KV manager, sampler and engine unchanged, the
 * same greedy tokens as the engine on the wasm runner (and the float64 reference) through
 * continuous batching with chunked prefill, preemption (recompute and swap), prefix caching and
 * n > 1 samples sharing prompt blocks. A lost device fails the requests and the engine with a
 * clear error, and nothing hangs.
 */
import { afterAll, describe, expect, it } from 'vitest';
import { AsyncLLMEngine, LLM, LLMEngine, type EngineConfigInput } from '../../../src/inference/engine/index.ts';
import { makeSamplingParams } from '../../../src/inference/sampler/index.ts';
import type { RunnerFactory } from '../../../src/inference/runner/types.ts';
import { WebGpuRunner } from '../../../src/inference/runner/webgpu/webgpu_runner.ts';
import { referenceGreedy } from '../../helpers/reference_llama.ts';
import { tinyGguf } from '../engine/fixture.ts';
import { gpuSkipReason, gpuTitle } from './gpu_available.ts';

const fx = tinyGguf(3);
afterAll(() => fx.cleanup());

const gpuRunner: RunnerFactory = (m, o) => WebGpuRunner.create(m, { ...o, allowSoftware: true });
const prompts = [[256, 72, 105], [256, 1, 2, 3, 4, 5, 6, 7, 8, 9], [256, 40], [256, 100, 101, 102, 103, 104]];
const greedy = (max: number) => makeSamplingParams({ temperature: 0, max_tokens: max, ignore_eos: true });

async function both(cfg: EngineConfigInput): Promise<{ gpu: LLM; cpu: LLM }> {
  const opts = { model: fx.model, blockSize: 4, kvCacheMemory: '1MiB', ...cfg };
  return { gpu: await LLM.create(opts, gpuRunner), cpu: new LLM(opts) };
}

describe.skipIf(gpuSkipReason !== null)(gpuTitle('LLMEngine on the WebGPU runner'), () => {
  it.each([
    ['continuous batching, chunked prefill', { maxNumBatchedTokens: 8, maxNumSeqs: 3 }],
    ['few blocks: preemption by recompute', { kvCacheMemory: 6 * 1024, maxModelLen: 20 }],
    ['few blocks: preemption by swapping to host blocks', { kvCacheMemory: 6 * 1024, maxModelLen: 20, swapSpace: 16 * 1024 }],
  ])('greedy tokens equal the wasm engine\'s and the reference (%s)', async (_name, cfg) => {
    const { gpu, cpu } = await both(cfg);
    try {
      expect(gpu.engine.runner.device).toMatch(/^webgpu/);
      const params = prompts.map((_, i) => greedy(4 + i));
      const got = gpu.generate(prompts, params);
      const want = cpu.generate(prompts, params);
      got.forEach((o, i) => {
        expect(o.outputs[0]!.tokenIds).toEqual(want[i]!.outputs[0]!.tokenIds);
        expect(o.outputs[0]!.tokenIds).toEqual(referenceGreedy(fx.model, prompts[i]!, 4 + i));
      });
      if ('kvCacheMemory' in cfg) expect(gpu.engine.stats().numPreemptions).toBeGreaterThan(0);
      expect(gpu.engine.stats().numPreemptions).toBe(cpu.engine.stats().numPreemptions);
      expect(gpu.engine.manager.pool.numFree).toBe(gpu.engine.manager.pool.numBlocks);
    } finally {
      gpu.dispose();
      cpu.dispose();
    }
  });

  it('a prompt seen before starts from its cached blocks and decodes the same; n = 3 samples share its blocks (copy on write)', async () => {
    const { gpu, cpu } = await both({});
    try {
      const long = [256, ...Array.from({ length: 13 }, (_, i) => 30 + i)];
      const first = gpu.generate([long], greedy(5))[0]!.outputs[0]!.tokenIds;
      const computed = gpu.engine.computedTokens;
      const again = gpu.generate([long], greedy(5))[0]!.outputs[0]!.tokenIds;
      expect(gpu.engine.stats().prefixCacheHits).toBeGreaterThan(0);
      expect(gpu.engine.computedTokens - computed).toBeLessThan(long.length); // the cached blocks were not recomputed
      expect(again).toEqual(first);
      expect(first).toEqual(cpu.generate([long], greedy(5))[0]!.outputs[0]!.tokenIds);
      const p = makeSamplingParams({ n: 3, temperature: 1, top_k: 1, max_tokens: 6, ignore_eos: true });
      const [out] = gpu.generate([prompts[1]!], p);
      for (const o of out!.outputs) expect(o.tokenIds).toEqual(referenceGreedy(fx.model, prompts[1]!, 6));
    } finally {
      gpu.dispose();
      cpu.dispose();
    }
  });

  it('a lost device fails the running requests and the engine with the reason; later requests are refused, nothing hangs', async () => {
    const engine = new AsyncLLMEngine(fx.model, {}, await LLMEngine.create(fx.model, { kvCacheMemory: '1MiB', blockSize: 4 }, gpuRunner));
    const runner = engine.engine.runner as WebGpuRunner;
    const ok = [];
    for await (const o of engine.generate(prompts[0]!, greedy(3), 'before')) ok.push(o);
    expect(ok.at(-1)!.finished).toBe(true);
    runner.loseDevice();
    const run = async () => {
      for await (const _ of engine.generate(prompts[1]!, greedy(8), 'after')) void _;
    };
    await expect(run()).rejects.toThrow(/the WebGPU device was lost \(destroyed\)/);
    expect(engine.error?.message).toMatch(/device was lost/);
    expect(() => engine.generate(prompts[2]!, greedy(2), 'later')).toThrow(/device was lost/);
    await engine.shutdown();
  });
});
