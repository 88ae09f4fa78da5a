/**
 * OpenAI request fields → SamplingParams, and the context-length check. Defaults follow vLLM:
 * /v1/completions generates 16 tokens unless told; chat fills the rest of the context.
 */
import { InvalidRequestError } from '../../errors.ts';
import { makeSamplingParams, validateForVocab, type SamplingParams, type SamplingParamsInput } from '../sampler/params.ts';
import type { ChatRequest, CompletionRequest } from './schemas.ts';

/** OpenAI's default max_tokens for /v1/completions. */
export const COMPLETION_DEFAULT_MAX_TOKENS = 16;

type Common = CompletionRequest | ChatRequest;

function commonInput(req: Common): SamplingParamsInput {
  const u = <T>(v: T | null | undefined): T | undefined => (v === null ? undefined : v);
  return {
    n: u(req.n),
    temperature: u(req.temperature),
    top_p: u(req.top_p),
    top_k: u(req.top_k),
    min_p: u(req.min_p),
    seed: req.seed ?? null,
    presence_penalty: u(req.presence_penalty),
    frequency_penalty: u(req.frequency_penalty),
    repetition_penalty: u(req.repetition_penalty),
    stop: req.stop ?? null,
    stop_token_ids: req.stop_token_ids ?? null,
    ignore_eos: u(req.ignore_eos),
    min_tokens: u(req.min_tokens),
    logit_bias: req.logit_bias ?? null,
    skip_special_tokens: u(req.skip_special_tokens),
    include_stop_str_in_output: u(req.include_stop_str_in_output),
  };
}

/**
 * max_tokens after the context check: a prompt that leaves no room, or a max_tokens past the
 * context, is a 400 with vLLM's message.
 */
export function resolveMaxTokens(requested: number | null | undefined, dflt: number | null, promptLen: number, maxModelLen: number, param: string): number {
  if (promptLen >= maxModelLen) {
    throw new InvalidRequestError(
      `This model's maximum context length is ${maxModelLen} tokens. However, your request has ${promptLen} input tokens. Please reduce the length of the input messages.`,
      'prompt',
    );
  }
  const room = maxModelLen - promptLen;
  if (requested === null || requested === undefined) return Math.min(dflt ?? room, room);
  if (requested < 1) throw new InvalidRequestError(`${param} must be at least 1, got ${requested}.`, param);
  if (requested > room) {
    throw new InvalidRequestError(
      `This model's maximum context length is ${maxModelLen} tokens. However, you requested ${promptLen + requested} tokens (${promptLen} in the messages, ${requested} in the completion). Please reduce the length of the messages or completion.`,
      param,
    );
  }
  return requested;
}

export interface ParamsContext {
  readonly promptLen: number;
  readonly maxModelLen: number;
  readonly vocabSize: number;
}

export function completionParams(req: CompletionRequest, ctx: ParamsContext): SamplingParams {
  const maxTokens = resolveMaxTokens(req.max_tokens, COMPLETION_DEFAULT_MAX_TOKENS, ctx.promptLen, ctx.maxModelLen, 'max_tokens');
  const logprobs = req.logprobs ?? null;
  const params = makeSamplingParams({
    ...commonInput(req),
    max_tokens: maxTokens,
    logprobs,
    // echo with logprobs reports the prompt's tokens too (OpenAI's legacy completions).
    prompt_logprobs: req.echo && logprobs !== null ? logprobs : null,
  });
  validateForVocab(params, ctx.vocabSize);
  return params;
}

export function chatParams(req: ChatRequest, ctx: ParamsContext): SamplingParams {
  const param = req.max_completion_tokens != null ? 'max_completion_tokens' : 'max_tokens';
  const maxTokens = resolveMaxTokens(req.max_completion_tokens ?? req.max_tokens, null, ctx.promptLen, ctx.maxModelLen, param);
  if (req.top_logprobs != null && !req.logprobs) {
    throw new InvalidRequestError('when using `top_logprobs`, `logprobs` must be set to true.', 'top_logprobs');
  }
  const top = req.top_logprobs ?? 0;
  if (top < 0) throw new InvalidRequestError(`top_logprobs must be non-negative, got ${top}.`, 'top_logprobs');
  const params = makeSamplingParams({ ...commonInput(req), max_tokens: maxTokens, logprobs: req.logprobs ? top : null });
  validateForVocab(params, ctx.vocabSize);
  return params;
}
