/**
 * Request bodies, checked with zod for types only (ranges are the sampler's job, with vLLM's
 * messages). Unknown fields are dropped, as OpenAI's API ignores them. A type error becomes an
 * InvalidRequestError whose `param` is the field's path (e.g. `messages.0.content`).
 */
import { z } from 'zod';
import { InvalidRequestError } from '../../errors.ts';

const int = z.number().int();
const optNum = z.number().nullish();
const stop = z.union([z.string(), z.array(z.string())]).nullish();

/** Fields every generation request may carry: OpenAI's names, then vLLM's extras. */
const sampling = {
  model: z.string().nullish(),
  n: int.nullish(),
  temperature: optNum,
  top_p: optNum,
  stop,
  seed: int.nullish(),
  presence_penalty: optNum,
  frequency_penalty: optNum,
  logit_bias: z.record(z.string(), z.number()).nullish(),
  stream: z.boolean().nullish(),
  stream_options: z.object({ include_usage: z.boolean().nullish() }).nullish(),
  user: z.string().nullish(),
  top_k: int.nullish(),
  min_p: optNum,
  repetition_penalty: optNum,
  ignore_eos: z.boolean().nullish(),
  min_tokens: int.nullish(),
  stop_token_ids: z.array(int).nullish(),
  skip_special_tokens: z.boolean().nullish(),
  include_stop_str_in_output: z.boolean().nullish(),
};

const tokenIds = z.array(int);

export const completionRequest = z.object({
  ...sampling,
  prompt: z.union([z.string(), z.array(z.string()), tokenIds, z.array(tokenIds)]),
  max_tokens: int.nullish(),
  echo: z.boolean().nullish(),
  logprobs: int.nullish(),
  suffix: z.string().nullish(),
});
export type CompletionRequest = z.infer<typeof completionRequest>;

const textPart = z.object({ type: z.literal('text'), text: z.string() });
export const chatMessage = z.object({
  role: z.string(),
  content: z.union([z.string(), z.array(textPart)]).nullish(),
  name: z.string().nullish(),
});
export type ChatMessage = z.infer<typeof chatMessage>;

export const chatRequest = z.object({
  ...sampling,
  messages: z.array(chatMessage).min(1),
  max_tokens: int.nullish(),
  max_completion_tokens: int.nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: int.nullish(),
  add_generation_prompt: z.boolean().nullish(),
  chat_template: z.string().nullish(),
});
export type ChatRequest = z.infer<typeof chatRequest>;

export const tokenizeRequest = z.union([
  z.object({ model: z.string().nullish(), prompt: z.string(), add_special_tokens: z.boolean().nullish() }),
  z.object({
    model: z.string().nullish(),
    messages: z.array(chatMessage).min(1),
    add_generation_prompt: z.boolean().nullish(),
    add_special_tokens: z.boolean().nullish(),
  }),
]);
export type TokenizeRequest = z.infer<typeof tokenizeRequest>;

export const detokenizeRequest = z.object({ model: z.string().nullish(), tokens: tokenIds });
export type DetokenizeRequest = z.infer<typeof detokenizeRequest>;

/** Parses `body` with `schema`; the first issue names the field. */
export function parseRequest<T>(schema: z.ZodType<T>, body: unknown): T {
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw new InvalidRequestError(`the request body must be a JSON object, got ${Array.isArray(body) ? 'an array' : typeof body}`, null);
  }
  const r = schema.safeParse(body);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const path = issue.path.map(String).join('.');
  const got = issue.path.reduce<unknown>((v, k) => (v as Record<PropertyKey, unknown> | undefined)?.[k as PropertyKey], body);
  const value = got === undefined ? 'nothing' : JSON.stringify(got);
  throw new InvalidRequestError(`${path || 'body'}: ${issue.message} (got ${value})`, path || null);
}
