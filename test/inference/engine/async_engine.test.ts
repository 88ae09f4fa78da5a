import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncLLMEngine, type RequestOutput } from '../../../src/inference/engine/index.ts';
import { makeSamplingParams } from '../../../src/inference/sampler/index.ts';
import { initBackend } from '../../../src/runtime/backend/index.ts';
import { referenceGreedy } from '../../helpers/reference_llama.ts';
import { tinyGguf } from './fixture.ts';

const fx = tinyGguf(5);
afterAll(() => fx.cleanup());
beforeAll(async () => {
  await initBackend();
});

const greedy = (max: number) => makeSamplingParams({ temperature: 0, max_tokens: max, ignore_eos: true });

describe('AsyncLLMEngine', () => {
  it('streams growing outputs for concurrent requests; the last equals the reference', async () => {
    const engine = new AsyncLLMEngine(fx.model, { kvCacheMemory: '1MiB', blockSize: 4 });
    const run = async (id: string, prompt: number[], n: number) => {
      const seen: RequestOutput[] = [];
      for await (const o of engine.generate(prompt, greedy(n), id)) seen.push(o);
      return seen;
    };
    const [a, b] = await Promise.all([run('a', [256, 7, 8, 9], 5), run('b', [256, 70], 3)]);
    for (const [seen, prompt, n] of [[a!, [256, 7, 8, 9], 5], [b!, [256, 70], 3]] as const) {
      expect(seen.map((o) => o.outputs[0]!.tokenIds.length)).toEqual(Array.from({ length: n }, (_, i) => i + 1));
      expect(seen.at(-1)!.finished).toBe(true);
      expect(seen.at(-1)!.outputs[0]!.tokenIds).toEqual(referenceGreedy(fx.model, [...prompt], n));
      expect(seen.at(-1)!.metrics.firstTokenTime).not.toBeNull();
    }
    await engine.shutdown();
  });

  it('leaving the loop early or aborting the signal aborts the request and frees its blocks', async () => {
    const engine = new AsyncLLMEngine(fx.model, { kvCacheMemory: '1MiB', blockSize: 4 });
    const pool = engine.engine.manager.pool;
    let count = 0;
    for await (const o of engine.generate([256, 1, 2], greedy(30), 'x')) {
      expect(o.finished).toBe(false);
      if (++count === 3) break;
    }
    expect(engine.engine.hasUnfinished()).toBe(false);
    expect(pool.numFree).toBe(pool.numBlocks);

    const ctl = new AbortController();
    const outs: RequestOutput[] = [];
    for await (const o of engine.generate([256, 3, 4], greedy(30), 'y', ctl.signal)) {
      outs.push(o);
      if (outs.length === 2) ctl.abort();
    }
    expect(outs.at(-1)!.finished).toBe(true);
    expect(outs.at(-1)!.outputs[0]!.finishReason).toBe('abort');
    expect(pool.numFree).toBe(pool.numBlocks);
    await engine.shutdown();
  });
});
