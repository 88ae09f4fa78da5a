/**
 * Logprobs in OpenAI's two formats, from the sampler's raw-logit logprobs (SampleLogprobs).
 *   completions: {tokens, token_logprobs, top_logprobs: [{token: logprob}], text_offset}
 *   chat:        {content: [{token, logprob, bytes, top_logprobs: [{token, logprob, bytes}]}]}
 * A token's string is its decode on its own (a byte-level fragment of a character may show
 * as U+FFFD, as in vLLM); -Infinity is sent as -9999 (JSON has no infinities).
 */
import type { Tokenizer } from '../../data/tokenizer/types.ts';
import type { SampleLogprobs } from '../sampler/logprobs.ts';

export interface CompletionLogprobs {
  tokens: string[];
  token_logprobs: (number | null)[];
  top_logprobs: (Record<string, number> | null)[];
  text_offset: number[];
}

export interface ChatTokenLogprob {
  token: string;
  logprob: number;
  bytes: number[];
  top_logprobs: { token: string; logprob: number; bytes: number[] }[];
}

const finite = (x: number) => (x === -Infinity ? -9999 : x);

export function tokenString(tokenizer: Tokenizer, id: number): string {
  return tokenizer.decode([id]);
}

export function emptyCompletionLogprobs(): CompletionLogprobs {
  return { tokens: [], token_logprobs: [], top_logprobs: [], text_offset: [] };
}

/**
 * Appends tokens to `into`; text offsets count from `offset` (the characters before the first
 * of them). `topN` is how many top entries to show (the request's logprobs). Returns the
 * offset after the last token.
 */
export function appendCompletionLogprobs(
  into: CompletionLogprobs,
  tokenizer: Tokenizer,
  tokenIds: readonly number[],
  logprobs: readonly (SampleLogprobs | null)[],
  topN: number,
  offset: number,
): number {
  for (let i = 0; i < tokenIds.length; i++) {
    const id = tokenIds[i]!;
    const s = tokenString(tokenizer, id);
    const lp = logprobs[i] ?? null;
    into.tokens.push(s);
    into.text_offset.push(offset);
    offset += s.length;
    into.token_logprobs.push(lp ? finite(lp.logprob) : null);
    if (!lp) {
      into.top_logprobs.push(null);
      continue;
    }
    const top: Record<string, number> = {};
    for (const t of lp.top.slice(0, topN)) top[tokenString(tokenizer, t.id)] = finite(t.logprob);
    // OpenAI lists the sampled token among the top entries even when it ranks lower.
    if (topN > 0) top[s] ??= finite(lp.logprob);
    into.top_logprobs.push(top);
  }
  return offset;
}

export function chatLogprobs(tokenizer: Tokenizer, tokenIds: readonly number[], logprobs: readonly SampleLogprobs[], topN: number): ChatTokenLogprob[] {
  const entry = (id: number) => {
    const token = tokenString(tokenizer, id);
    return { token, bytes: [...tokenizer.tokenBytes(id)] };
  };
  return tokenIds.map((id, i) => {
    const lp = logprobs[i]!;
    return {
      ...entry(id),
      logprob: finite(lp.logprob),
      top_logprobs: lp.top.slice(0, topN).map((t) => ({ ...entry(t.id), logprob: finite(t.logprob) })),
    };
  });
}
