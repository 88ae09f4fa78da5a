/** Errors in OpenAI's body (400 with param, 404, 401), /v1/models, /health, /metrics, /tokenize, /detokenize. */
import OpenAI from 'openai';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MODEL, startToyServer, tinyTokenizer, type Running } from './helpers/setup.ts';

let s: Running;
beforeAll(async () => (s = await startToyServer()));
afterAll(async () => s.app.close());

const post = (path: string, body: unknown, headers: Record<string, string> = {}) =>
  fetch(`${s.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: typeof body === 'string' ? body : JSON.stringify(body) });

async function apiError(p: Promise<unknown>): Promise<InstanceType<typeof OpenAI.APIError>> {
  try {
    await p;
  } catch (err) {
    if (err instanceof OpenAI.APIError) return err;
    throw err;
  }
  throw new Error('expected the request to fail');
}

describe('errors', () => {
  it.each([
    [{ temperature: -1 }, 'temperature', /temperature must be non-negative, got -1/],
    [{ top_p: 0 }, 'top_p', /top_p must be in \(0, 1\]/],
    [{ max_tokens: 'x' }, 'max_tokens', /max_tokens: .*got "x"/],
    [{ n: 2, temperature: 0 }, 'n', /n must be 1 when using greedy sampling/],
    [{ logit_bias: { '999': 1 } }, 'logit_bias', /out-of-vocab token ids/],
    [{ stop_token_ids: [1.5] }, 'stop_token_ids.0', /expected int/],
    [{ max_tokens: 500 }, 'max_tokens', /maximum context length is 128 tokens\. However, you requested 502 tokens \(2 in the messages, 500 in the completion\)/],
  ])('%j → 400 naming %s', async (patch, param, message) => {
    const e = await apiError(s.client.completions.create({ model: MODEL, prompt: 'hello', ...patch } as never));
    expect(e.status).toBe(400);
    expect(e.param).toBe(param);
    expect(e.type).toBe('invalid_request_error');
    expect(e.message).toMatch(message);
  });

  it('a prompt over the context is a 400 on prompt', async () => {
    const e = await apiError(s.client.completions.create({ model: MODEL, prompt: 'x'.repeat(200) }));
    expect(e.status).toBe(400);
    expect(e.param).toBe('prompt');
    expect(e.message).toMatch(/maximum context length is 128 tokens\. However, your request has 201 input tokens/);
  });

  it('an unknown model is a 404 with OpenAI’s message; unknown fields are ignored', async () => {
    const e = await apiError(s.client.chat.completions.create({ model: 'gpt-9', messages: [{ role: 'user', content: 'hi' }] }));
    expect(e.status).toBe(404);
    expect((e.error as { message: string }).message).toBe('The model `gpt-9` does not exist.');
    const ok = await s.client.chat.completions.create({ model: MODEL, messages: [{ role: 'user', content: 'hi' }], max_tokens: 1, frobnicate: 3 } as never);
    expect((ok as { choices: unknown[] }).choices).toHaveLength(1);
  });

  it('raw bodies: bad JSON, not an object, missing prompt, unknown route', async () => {
    const bad = await post('/v1/completions', '{nope');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { error: { message: string } }).error.message).toMatch(/not valid JSON/);
    expect((await post('/v1/completions', [1])).status).toBe(400);
    const missing = (await (await post('/v1/completions', { model: MODEL })).json()) as { error: { param: string; code: number } };
    expect(missing.error).toMatchObject({ param: 'prompt', code: 400 });
    expect((await fetch(`${s.url}/v2/nothing`)).status).toBe(404);
  });

  it('an API key is required as a Bearer token when set (401), /health stays open', async () => {
    const locked = await startToyServer({}, { apiKey: 'sesame' });
    try {
      const models = await locked.client.models.list();
      expect(models.data.map((m) => m.id)).toEqual([MODEL]);
      const wrong = new OpenAI({ baseURL: `${locked.url}/v1`, apiKey: 'guess', maxRetries: 0 });
      expect((await apiError(wrong.models.list())).status).toBe(401);
      expect((await fetch(`${locked.url}/v1/completions`, { method: 'POST', body: '{}' })).status).toBe(401);
      expect((await fetch(`${locked.url}/health`)).status).toBe(200);
    } finally {
      await locked.app.close();
    }
  });
});

describe('other endpoints', () => {
  it('GET /v1/models lists the served model with its context length', async () => {
    const r = (await (await fetch(`${s.url}/v1/models`)).json()) as { object: string; data: { id: string; object: string; max_model_len: number }[] };
    expect(r.object).toBe('list');
    expect(r.data).toEqual([expect.objectContaining({ id: MODEL, object: 'model', max_model_len: 128 })]);
  });

  it('/tokenize and /detokenize round-trip, and tokenize chat messages like the chat endpoint', async () => {
    const tok = tinyTokenizer();
    const t = (await (await post('/tokenize', { model: MODEL, prompt: 'hello world' })).json()) as { count: number; tokens: number[]; max_model_len: number };
    expect(t.tokens).toEqual(tok.encode('hello world', { addBos: true }));
    expect(t).toMatchObject({ count: t.tokens.length, max_model_len: 128 });
    const d = (await (await post('/detokenize', { tokens: t.tokens.slice(1) })).json()) as { prompt: string };
    expect(d.prompt).toBe('hello world');
    const messages = [{ role: 'user', content: 'hi' }];
    const chat = (await (await post('/tokenize', { messages })).json()) as { count: number };
    const r = await s.client.chat.completions.create({ model: MODEL, messages: messages as never, max_tokens: 1 });
    expect(chat.count).toBe(r.usage!.prompt_tokens);
    // add_special_tokens with messages: the tokenizer's BOS in front of the rendered template (vLLM's default for chat: off)
    const withBos = (await (await post('/tokenize', { messages, add_special_tokens: true })).json()) as { tokens: number[] };
    const without = (await (await post('/tokenize', { messages, add_special_tokens: false })).json()) as { tokens: number[] };
    expect(without.tokens.length).toBe(chat.count);
    expect(withBos.tokens).toEqual([tok.encode('', { addBos: true })[0], ...without.tokens]);
    const bad = (await (await post('/detokenize', { tokens: [5, 400] })).json()) as { error: { param: string } };
    expect(bad.error.param).toBe('tokens.1');
  });

  it('/metrics counts the tokens served and shows the KV cache empty when idle', async () => {
    const text0 = await (await fetch(`${s.url}/metrics`)).text();
    const value = (text: string, name: string) => Number(new RegExp(`^${name}\\{[^}]*\\} (\\S+)$`, 'm').exec(text)?.[1] ?? NaN);
    const r = await s.client.completions.create({ model: MODEL, prompt: 'hello', max_tokens: 5, temperature: 0, ignore_eos: true } as never);
    const text = await (await fetch(`${s.url}/metrics`)).text();
    const u = (r as { usage: { prompt_tokens: number; completion_tokens: number } }).usage;
    expect(value(text, 'vllm:generation_tokens_total') - value(text0, 'vllm:generation_tokens_total')).toBe(u.completion_tokens);
    expect(value(text, 'vllm:prompt_tokens_total') - value(text0, 'vllm:prompt_tokens_total')).toBe(u.prompt_tokens);
    expect(value(text, 'vllm:num_requests_running')).toBe(0);
    expect(value(text, 'vllm:kv_cache_usage_perc')).toBe(0);
    expect(value(text, 'vllm:gpu_cache_usage_perc')).toBe(0);
    expect(value(text, 'vllm:prefix_cache_queries_total')).toBeGreaterThan(0);
    expect(value(text, 'vllm:e2e_request_latency_seconds_count') - value(text0, 'vllm:e2e_request_latency_seconds_count')).toBe(1);
    expect(text).toMatch(/vllm:time_to_first_token_seconds_bucket\{le="0\.001",model_name="toy"\}/);
    expect(text).toContain('vllm:inter_token_latency_seconds_count');
  });
});
