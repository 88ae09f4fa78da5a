/** /v1/chat/completions: template, streaming chunks, logprobs, n. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_CHAT_TEMPLATE, renderChat } from '../../../src/inference/server/chat_template.ts';
import { greedyReference, MODEL, referenceLogprob, startToyServer, tinyTokenizer, type Running } from './helpers/setup.ts';

let s: Running;
beforeAll(async () => (s = await startToyServer()));
afterAll(async () => s.app.close());

const tok = tinyTokenizer();
const messages = [
  { role: 'system' as const, content: 'be brief' },
  { role: 'user' as const, content: 'hello world' },
];

describe('chat template', () => {
  it('renders ChatML when the model has none, with the generation prompt by default', () => {
    expect(renderChat(tok, messages)).toBe('<|im_start|>system\nbe brief<|im_end|>\n<|im_start|>user\nhello world<|im_end|>\n<|im_start|>assistant\n');
    expect(renderChat(tok, messages, { addGenerationPrompt: false })).not.toContain('assistant');
  });

  it("uses the tokenizer's own template, with bos_token and eos_token", () => {
    const t = tinyTokenizer("{{ bos_token }}{% for m in messages %}[{{ m.role }}]{{ m.content }}{{ eos_token }}{% endfor %}");
    expect(renderChat(t, messages)).toBe('<|bos|>[system]be brief<|eos|>[user]hello world<|eos|>');
    expect(DEFAULT_CHAT_TEMPLATE).toContain('<|im_start|>');
  });
});

describe('POST /v1/chat/completions', () => {
  const promptIds = tok.encode(renderChat(tok, messages), { addBos: false, allowSpecial: true });

  it('answers the reference greedy continuation of the rendered prompt, with usage', async () => {
    const r = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 6, temperature: 0 });
    const ref = greedyReference(promptIds, 6, 257);
    expect(r.object).toBe('chat.completion');
    expect(r.choices[0]!.message).toMatchObject({ role: 'assistant', content: tok.decode(ref.filter((t) => t !== 257)) });
    expect(r.usage).toMatchObject({ prompt_tokens: promptIds.length, completion_tokens: ref.length });
  });

  it('max_completion_tokens wins over max_tokens; no max fills the context', async () => {
    const r = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 9, max_completion_tokens: 3, temperature: 0 });
    expect(r.usage!.completion_tokens).toBe(3);
    const all = await s.client.chat.completions.create({ model: MODEL, messages, temperature: 0, ignore_eos: true } as never);
    expect((all as { usage: { total_tokens: number } }).usage.total_tokens).toBe(s.engine.maxModelLen);
  });

  it('logprobs in the chat format equal the log-softmax of the model', async () => {
    const r = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 3, temperature: 0, logprobs: true, top_logprobs: 3 });
    const content = r.choices[0]!.logprobs!.content!;
    const ref = greedyReference(promptIds, 3, 257);
    let last = promptIds[promptIds.length - 1]!;
    content.forEach((c, i) => {
      expect(c.token).toBe(tok.decode([ref[i]!]));
      expect(c.bytes).toEqual([...tok.tokenBytes(ref[i]!)]);
      expect(c.logprob).toBeCloseTo(referenceLogprob(last, promptIds.length - 1 + i, ref[i]!), 5);
      expect(c.top_logprobs).toHaveLength(3);
      expect(c.top_logprobs[0]!.logprob).toBeCloseTo(c.logprob, 6);
      last = ref[i]!;
    });
  });

  it('streams chat.completion.chunk: role first, content adding up, finish, then usage', async () => {
    const whole = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 8, temperature: 0 });
    const stream = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 8, temperature: 0, stream: true, stream_options: { include_usage: true } });
    const chunks = [];
    for await (const c of stream) chunks.push(c);
    expect(chunks.every((c) => c.object === 'chat.completion.chunk')).toBe(true);
    expect(chunks[0]!.choices[0]!.delta.role).toBe('assistant');
    expect(chunks.map((c) => c.choices[0]?.delta.content ?? '').join('')).toBe(whole.choices[0]!.message.content);
    expect(chunks.filter((c) => c.choices[0]?.finish_reason).map((c) => c.choices[0]!.finish_reason)).toEqual([whole.choices[0]!.finish_reason]);
    expect(chunks.at(-1)!.choices).toEqual([]);
    expect(chunks.at(-1)!.usage).toEqual(whole.usage);
  });

  it('n = 2 streams two choices, each opened with its role', async () => {
    const stream = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 4, temperature: 0.9, n: 2, seed: 3, stream: true });
    const roles = new Set<number>();
    const text = ['', ''];
    for await (const c of stream) {
      for (const ch of c.choices) {
        if (ch.delta.role) roles.add(ch.index);
        text[ch.index] += ch.delta.content ?? '';
      }
    }
    expect([...roles].sort()).toEqual([0, 1]);
    const whole = await s.client.chat.completions.create({ model: MODEL, messages, max_tokens: 4, temperature: 0.9, n: 2, seed: 3 });
    expect(whole.choices.map((c) => c.message.content)).toEqual(text);
  });
});
