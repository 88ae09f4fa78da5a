/**
 * The server over the real AsyncLLMEngine and a tiny random Llama: greedy text equals the
 * float64 reference decode, streaming works, and a disconnect frees the engine's KV blocks.
 */
import { request } from 'node:http';
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { AsyncLLMEngine } from '../../../src/inference/engine/index.ts';
import { ApiServer } from '../../../src/inference/server/app.ts';
import type { ServingEngine } from '../../../src/inference/server/engine.ts';
import { initBackend } from '../../../src/runtime/backend/index.ts';
import { randomWeights, tinyConfig } from '../../helpers/random_llama.ts';
import { referenceForward, referenceGreedy } from '../../helpers/reference_llama.ts';
import { MODEL, tinyTokenizer } from './helpers/setup.ts';

const config = tinyConfig({ maxPositionEmbeddings: 64 });
const model = { config, weights: randomWeights(config, 5), tokenizer: tinyTokenizer(), source: 'random' };
let engine: AsyncLLMEngine;
let app: ApiServer;
let url: string;
let client: OpenAI;

beforeAll(async () => {
  await initBackend();
  engine = new AsyncLLMEngine(model, { kvCacheMemory: '1MiB', blockSize: 4, maxNumSeqs: 8 });
  const served: ServingEngine = engine;
  app = new ApiServer({ engine: served, modelName: MODEL });
  url = `http://127.0.0.1:${(await app.listen(0)).port}`;
  client = new OpenAI({ baseURL: `${url}/v1`, apiKey: 'none', maxRetries: 0 });
});
afterAll(async () => app?.close());

describe('ds serve over the real engine', () => {
  const ids = model.tokenizer.encode('hello world', { addBos: true });

  it('greedy completion equals the float64 reference decode; the stream adds up to it', async () => {
    const r = await client.completions.create({ model: MODEL, prompt: 'hello world', max_tokens: 5, temperature: 0, ignore_eos: true } as never);
    const ref = referenceGreedy(model, ids, 5);
    const text = (r as { choices: { text: string }[] }).choices[0]!.text;
    expect(text).toBe(model.tokenizer.decode(ref));
    const stream = await client.completions.create({ model: MODEL, prompt: 'hello world', max_tokens: 5, temperature: 0, ignore_eos: true, stream: true } as never);
    let streamed = '';
    for await (const c of stream as unknown as AsyncIterable<{ choices: { text: string }[] }>) streamed += c.choices[0]?.text ?? '';
    expect(streamed).toBe(text);
  });

  it('echo with logprobs scores the prompt tokens (the first null) with the model\'s log-softmax, then the generated ones', async () => {
    const r = (await client.completions.create({ model: MODEL, prompt: 'hello world', max_tokens: 2, temperature: 0, ignore_eos: true, logprobs: 1, echo: true } as never)) as unknown as {
      choices: { logprobs: { token_logprobs: (number | null)[] } }[];
    };
    const lp = r.choices[0]!.logprobs.token_logprobs;
    const ref = referenceGreedy(model, ids, 2);
    const logits = referenceForward(model, [...ids, ...ref]); // row p scores token p + 1
    const logSoftmax = (row: Float64Array, t: number) => {
      const m = Math.max(...row);
      return row[t]! - m - Math.log(row.reduce((z, x) => z + Math.exp(x - m), 0));
    };
    expect(lp).toHaveLength(ids.length + 2);
    expect(lp[0]).toBeNull();
    const all = [...ids, ...ref];
    for (let p = 1; p < all.length; p++) expect(lp[p]).toBeCloseTo(logSoftmax(logits[p - 1]!, all[p]!), 4);
  });

  it('chat with n = 2 returns two choices; /metrics shows the KV cache empty afterwards', async () => {
    const r = await client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 3, temperature: 1, n: 2, seed: 1 });
    expect(r.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(r.usage!.completion_tokens).toBeGreaterThanOrEqual(2);
    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toMatch(/^vllm:kv_cache_usage_perc\{model_name="toy"\} 0$/m);
  });

  it('a client that disconnects mid-stream has its KV blocks freed within one engine step', async () => {
    const pool = engine.engine.manager.pool;
    const firstBytes = new Promise<() => void>((resolve) => {
      const req = request(`${url}/v1/completions`, { method: 'POST', headers: { 'content-type': 'application/json' } }, (res) => {
        res.once('data', () => resolve(() => req.destroy()));
      });
      req.on('error', () => {});
      req.end(JSON.stringify({ model: MODEL, prompt: 'hello world', max_tokens: 50, temperature: 0, ignore_eos: true, stream: true }));
    });
    const destroy = await firstBytes;
    expect(pool.numFree).toBeLessThan(pool.numBlocks);
    destroy();
    const t0 = Date.now();
    while (pool.numFree < pool.numBlocks && Date.now() - t0 < 2000) await new Promise((r) => setImmediate(r));
    expect(pool.numFree).toBe(pool.numBlocks);
    expect(engine.stats()).toMatchObject({ numRunning: 0, numWaiting: 0 });
  });
});
