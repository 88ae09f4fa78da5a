/** 64 concurrent streaming clients: all complete, no errors, and the KV cache is empty afterwards. */
import OpenAI from 'openai';
import { describe, expect, it } from 'vitest';
import { AsyncLLMEngine } from '../../../src/inference/engine/index.ts';
import { ApiServer } from '../../../src/inference/server/app.ts';
import type { EngineStats } from '../../../src/inference/server/engine.ts';
import { initBackend } from '../../../src/runtime/backend/index.ts';
import { randomWeights, tinyConfig } from '../../helpers/random_llama.ts';
import { MODEL, startToyServer, tinyTokenizer } from './helpers/setup.ts';

interface Served {
  readonly url: string;
  readonly client: OpenAI;
  stats(): EngineStats;
  close(): Promise<unknown>;
}

async function toy(): Promise<Served> {
  const s = await startToyServer({ numBlocks: 96, blockSize: 4, maxNumSeqs: 16 }, { maxNumSeqs: 16, maxWaiting: 64 });
  return { url: s.url, client: s.client, stats: () => s.engine.stats(), close: () => s.app.close() };
}

/** The real engine on a tiny random Llama, with a KV pool small enough to make requests wait. */
async function real(): Promise<Served> {
  await initBackend();
  const config = tinyConfig({ maxPositionEmbeddings: 64 });
  const engine = new AsyncLLMEngine({ config, weights: randomWeights(config, 2), tokenizer: tinyTokenizer(), source: 'random' }, { kvCacheMemory: 96 * 2048, blockSize: 4, maxNumSeqs: 16 });
  const app = new ApiServer({ engine, modelName: MODEL, maxNumSeqs: 16, maxWaiting: 64 });
  const url = `http://127.0.0.1:${(await app.listen(0)).port}`;
  return { url, client: new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 }), stats: () => engine.stats(), close: () => app.close() };
}

describe('load', () => {
  it.each([['toy engine', toy], ['real engine, tiny Llama', real]])('%s: 64 concurrent streams all finish with every token, zero errors, KV usage back to 0', async (_, start) => {
    const s = await start();
    try {
      const one = async (i: number) => {
        const stream = await s.client.completions.create({ model: MODEL, prompt: `hello ${i}`, max_tokens: 8, temperature: 0.7, seed: i, ignore_eos: true, stream: true, stream_options: { include_usage: true } } as never);
        let tokens = 0;
        let finish: string | null = null;
        for await (const c of stream as unknown as AsyncIterable<{ choices: { finish_reason: string | null }[]; usage: { completion_tokens: number } | null }>) {
          if (c.usage) tokens = c.usage.completion_tokens;
          finish = c.choices[0]?.finish_reason ?? finish;
        }
        return { tokens, finish };
      };
      const results = await Promise.allSettled(Array.from({ length: 64 }, (_, i) => one(i)));
      const errors = results.filter((r) => r.status === 'rejected');
      expect(errors).toEqual([]);
      for (const r of results) expect((r as PromiseFulfilledResult<{ tokens: number; finish: string }>).value).toEqual({ tokens: 8, finish: 'length' });
      expect(s.stats()).toMatchObject({ numRunning: 0, numWaiting: 0, kvCacheUsage: 0 });
      const metrics = await (await fetch(`${s.url}/metrics`)).text();
      expect(metrics).toMatch(/^vllm:kv_cache_usage_perc\{model_name="toy"\} 0$/m);
      expect(metrics).toMatch(/^vllm:request_success_total\{model_name="toy",finished_reason="length"\} 64$/m);
    } finally {
      await s.close();
    }
  });
});
