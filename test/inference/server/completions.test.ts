/** /v1/completions through the official openai client, checked against the toy model's own reference. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { greedyReference, MODEL, referenceLogprob, startToyServer, tinyTokenizer, type Running } from './helpers/setup.ts';

let s: Running;
beforeAll(async () => (s = await startToyServer()));
afterAll(async () => s.app.close());

const tok = tinyTokenizer();
const prompt = 'hello world';
const promptIds = tok.encode(prompt, { addBos: true, allowSpecial: true });

describe('POST /v1/completions', () => {
  it('greedy text, tokens and usage match the reference decode', async () => {
    const r = await s.client.completions.create({ model: MODEL, prompt, max_tokens: 8, temperature: 0 });
    const ref = greedyReference(promptIds, 8, 257);
    expect(r.object).toBe('text_completion');
    expect(r.choices).toHaveLength(1);
    expect(r.choices[0]!.text).toBe(tok.decode(ref.filter((t) => t !== 257)));
    expect(r.choices[0]!.finish_reason).toBe(ref.length === 8 && ref[7] !== 257 ? 'length' : 'stop');
    expect(r.usage).toEqual({ prompt_tokens: promptIds.length, completion_tokens: ref.length, total_tokens: promptIds.length + ref.length });
  });

  it('token-id prompts, several prompts, and echo', async () => {
    const ids = [256, 104, 101];
    const r = await s.client.completions.create({ model: MODEL, prompt: [ids, [256, 119]], max_tokens: 3, temperature: 0, echo: true });
    expect(r.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(r.choices[0]!.text).toBe(tok.decode(ids) + tok.decode(greedyReference(ids, 3, 257)));
    expect(r.choices[1]!.text).toBe(tok.decode([256, 119]) + tok.decode(greedyReference([256, 119], 3, 257)));
    expect(r.usage!.prompt_tokens).toBe(5);
  });

  it('logprobs: the sampled token and the top-2 equal the log-softmax of the model', async () => {
    const r = await s.client.completions.create({ model: MODEL, prompt, max_tokens: 4, temperature: 0, logprobs: 2 });
    const lp = r.choices[0]!.logprobs!;
    const ref = greedyReference(promptIds, 4, 257);
    expect(lp.tokens).toEqual(ref.map((t) => tok.decode([t])));
    let last = promptIds[promptIds.length - 1]!;
    ref.forEach((t, i) => {
      expect(lp.token_logprobs![i]).toBeCloseTo(referenceLogprob(last, promptIds.length - 1 + i, t), 5);
      const top = Object.values(lp.top_logprobs![i]!);
      expect(top.length).toBeGreaterThanOrEqual(2);
      // greedy: the sampled token is the top one.
      expect(Math.max(...top)).toBeCloseTo(lp.token_logprobs![i]!, 6);
      last = t;
    });
    expect(lp.text_offset![0]).toBe(0);
  });

  it('n = 2 with a seed gives two indexed choices, reproducibly', async () => {
    const ask = () => s.client.completions.create({ model: MODEL, prompt, max_tokens: 6, temperature: 1, n: 2, seed: 7 });
    const [a, b] = await Promise.all([ask(), ask()]);
    expect(a.choices.map((c) => c.index)).toEqual([0, 1]);
    expect(a.choices.map((c) => c.text)).toEqual(b.choices.map((c) => c.text));
    expect(a.usage!.completion_tokens).toBeGreaterThanOrEqual(2);
  });

  it('a stop string cuts the text before it and reports stop', async () => {
    const full = (await s.client.completions.create({ model: MODEL, prompt, max_tokens: 12, temperature: 0 })).choices[0]!.text;
    const stop = full.slice(4, 6);
    const cut = full.slice(0, full.indexOf(stop));
    const r = await s.client.completions.create({ model: MODEL, prompt, max_tokens: 12, temperature: 0, stop: [stop] });
    expect(r.choices[0]!.text).toBe(cut);
    expect(r.choices[0]!.finish_reason).toBe('stop');
    expect((r.choices[0] as unknown as { stop_reason: string }).stop_reason).toBe(stop);
  });

  it('streams text_completion chunks whose text adds up to the non-streamed text, then usage', async () => {
    const whole = (await s.client.completions.create({ model: MODEL, prompt, max_tokens: 10, temperature: 0 })).choices[0]!.text;
    const stream = await s.client.completions.create({ model: MODEL, prompt, max_tokens: 10, temperature: 0, stream: true, stream_options: { include_usage: true } });
    let text = '';
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    for (const c of chunks) text += c.choices[0]?.text ?? '';
    expect(text).toBe(whole);
    expect(chunks.every((c) => c.object === 'text_completion')).toBe(true);
    const last = chunks[chunks.length - 1]!;
    expect(last.choices).toEqual([]);
    expect(last.usage!.completion_tokens).toBeGreaterThan(0);
    expect(chunks[chunks.length - 2]!.choices[0]!.finish_reason).not.toBeNull();
  });
});
