/**
 * SamplingParams: what a request asks of the sampler and the stop checker, validated once where
 * it enters (server or `ds generate`) into a frozen object. Fields, defaults and error messages
 * follow vLLM's `SamplingParams`; every error is an InvalidRequestError whose `param` names the
 * request field, so the server can answer with OpenAI's error body.
 */
import { InvalidRequestError } from '../../errors.ts';

/** vLLM treats a temperature below this as greedy. */
export const SAMPLING_EPS = 1e-5;
/** The most top logprobs a request may ask for (vLLM's default `max_logprobs`). */
export const MAX_LOGPROBS = 20;

export interface SamplingParams {
  readonly n: number;
  readonly temperature: number;
  readonly topP: number;
  /** 0 = off (a request's -1 is stored as 0). */
  readonly topK: number;
  readonly minP: number;
  readonly seed: number | null;
  readonly presencePenalty: number;
  readonly frequencyPenalty: number;
  readonly repetitionPenalty: number;
  readonly stop: readonly string[];
  readonly stopTokenIds: readonly number[];
  readonly ignoreEos: boolean;
  /** null = until the end of the model's context. */
  readonly maxTokens: number | null;
  readonly minTokens: number;
  /** null = no logprobs; 0 = only the sampled token's; N = also the top N. */
  readonly logprobs: number | null;
  readonly promptLogprobs: number | null;
  /** [tokenId, bias] pairs, ids unique; checked against the vocabulary by validateForVocab. */
  readonly logitBias: readonly (readonly [number, number])[];
  readonly skipSpecialTokens: boolean;
  readonly includeStopStrInOutput: boolean;
}

/** The request's snake_case fields (vLLM / OpenAI names). Unknown keys are ignored here: the server's schema owns those. */
export interface SamplingParamsInput {
  n?: number;
  best_of?: number | null;
  temperature?: number;
  top_p?: number;
  top_k?: number;
  min_p?: number;
  seed?: number | null;
  presence_penalty?: number;
  frequency_penalty?: number;
  repetition_penalty?: number;
  stop?: string | readonly string[] | null;
  stop_token_ids?: readonly number[] | null;
  ignore_eos?: boolean;
  max_tokens?: number | null;
  min_tokens?: number;
  logprobs?: number | boolean | null;
  prompt_logprobs?: number | boolean | null;
  logit_bias?: Readonly<Record<string, number>> | ReadonlyMap<number, number> | null;
  skip_special_tokens?: boolean;
  include_stop_str_in_output?: boolean;
}

function bad(param: string, message: string): never {
  throw new InvalidRequestError(message, param);
}

function num(input: Record<string, unknown>, param: string, dflt: number): number {
  const v = input[param];
  if (v === undefined) return dflt;
  if (typeof v !== 'number' || Number.isNaN(v)) bad(param, `${param} must be a number, got ${JSON.stringify(v) ?? String(v)}`);
  return v;
}

function int(input: Record<string, unknown>, param: string, dflt: number): number {
  const v = num(input, param, dflt);
  if (!Number.isInteger(v)) bad(param, `${param} must be an integer, got ${v}`);
  return v;
}

function optInt(input: Record<string, unknown>, param: string): number | null {
  return input[param] === null || input[param] === undefined ? null : int(input, param, 0);
}

function bool(input: Record<string, unknown>, param: string, dflt: boolean): boolean {
  const v = input[param];
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') bad(param, `${param} must be a boolean, got ${JSON.stringify(v)}`);
  return v;
}

/** OpenAI's logprobs may be `true` (vLLM reads it as 1). */
function logprobCount(input: Record<string, unknown>, param: string): number | null {
  const v = input[param];
  if (v === true) return 1;
  if (v === false) return null;
  return optInt(input, param);
}

function stopStrings(v: unknown): string[] {
  if (v === undefined || v === null) return [];
  const list = typeof v === 'string' ? [v] : v;
  if (!Array.isArray(list) || !list.every((s) => typeof s === 'string')) {
    bad('stop', `stop must be a string or a list of strings, got ${JSON.stringify(v)}`);
  }
  if (list.some((s) => s === '')) bad('stop', 'stop cannot contain an empty string.');
  return [...new Set(list as string[])];
}

function stopTokenIds(v: unknown): number[] {
  if (v === undefined || v === null) return [];
  if (!Array.isArray(v) || !v.every((x) => Number.isInteger(x))) {
    bad('stop_token_ids', `stop_token_ids must contain only integers, got ${JSON.stringify(v)}.`);
  }
  return [...new Set(v as number[])];
}

function logitBias(v: unknown): [number, number][] {
  if (v === undefined || v === null) return [];
  let entries: [string, unknown][];
  if (v instanceof Map) entries = [...v.entries()].map(([k, b]) => [String(k), b]);
  else if (typeof v === 'object' && !Array.isArray(v)) entries = Object.entries(v);
  else bad('logit_bias', `logit_bias must be a map of token id to bias, got ${JSON.stringify(v)}`);
  const out = new Map<number, number>();
  for (const [key, bias] of entries) {
    if (!/^-?\d+$/.test(key.trim())) bad('logit_bias', `logit_bias keys must be token ids (integers), got ${JSON.stringify(key)}`);
    if (typeof bias !== 'number' || !Number.isFinite(bias)) bad('logit_bias', `logit_bias[${key}] must be a number, got ${JSON.stringify(bias)}`);
    if (bias < -100 || bias > 100) bad('logit_bias', `logit_bias[${key}] must be in [-100, 100], got ${bias}.`);
    out.set(Number(key), bias);
  }
  return [...out.entries()];
}

/**
 * Validates `input` (vLLM's `_verify_args`) and returns frozen params. Greedy requests
 * (temperature < 1e-5) get top_p 1, top_k off and min_p 0, and must have n = 1, as in vLLM.
 */
export function makeSamplingParams(input: SamplingParamsInput = {}): SamplingParams {
  const raw = input as Record<string, unknown>;
  const n = int(raw, 'n', 1);
  if (n < 1) bad('n', `n must be at least 1, got ${n}.`);
  const presencePenalty = num(raw, 'presence_penalty', 0);
  if (!(presencePenalty >= -2 && presencePenalty <= 2)) bad('presence_penalty', `presence_penalty must be in [-2, 2], got ${presencePenalty}.`);
  const frequencyPenalty = num(raw, 'frequency_penalty', 0);
  if (!(frequencyPenalty >= -2 && frequencyPenalty <= 2)) bad('frequency_penalty', `frequency_penalty must be in [-2, 2], got ${frequencyPenalty}.`);
  const repetitionPenalty = num(raw, 'repetition_penalty', 1);
  if (!Number.isFinite(repetitionPenalty)) bad('repetition_penalty', `repetition_penalty must be a finite number, got ${repetitionPenalty}.`);
  if (repetitionPenalty <= 0) bad('repetition_penalty', `repetition_penalty must be greater than zero, got ${repetitionPenalty}.`);
  let temperature = num(raw, 'temperature', 1);
  if (!Number.isFinite(temperature)) bad('temperature', `temperature must be a finite number, got ${temperature}.`);
  if (temperature < 0) bad('temperature', `temperature must be non-negative, got ${temperature}.`);
  let topP = num(raw, 'top_p', 1);
  if (!(topP > 0 && topP <= 1)) bad('top_p', `top_p must be in (0, 1], got ${topP}.`);
  let topK = int(raw, 'top_k', 0);
  if (topK < -1) bad('top_k', `top_k must be 0 (disable), or at least 1, got ${topK}.`);
  let minP = num(raw, 'min_p', 0);
  if (!(minP >= 0 && minP <= 1)) bad('min_p', `min_p must be in [0, 1], got ${minP}.`);
  const seed = optInt(raw, 'seed');
  const maxTokens = optInt(raw, 'max_tokens');
  if (maxTokens !== null && maxTokens < 1) bad('max_tokens', `max_tokens must be at least 1, got ${maxTokens}.`);
  const minTokens = int(raw, 'min_tokens', 0);
  if (minTokens < 0) bad('min_tokens', `min_tokens must be greater than or equal to 0, got ${minTokens}.`);
  if (maxTokens !== null && minTokens > maxTokens) bad('min_tokens', `min_tokens must be less than or equal to max_tokens=${maxTokens}, got ${minTokens}.`);
  const logprobs = logprobCount(raw, 'logprobs');
  if (logprobs !== null && logprobs < 0) bad('logprobs', `logprobs must be non-negative, got ${logprobs}.`);
  if (logprobs !== null && logprobs > MAX_LOGPROBS) bad('logprobs', `Requested sample logprobs of ${logprobs}, which is greater than max allowed: ${MAX_LOGPROBS}`);
  const promptLogprobs = logprobCount(raw, 'prompt_logprobs');
  if (promptLogprobs !== null && promptLogprobs < 0) bad('prompt_logprobs', `prompt_logprobs must be non-negative, got ${promptLogprobs}.`);
  if (promptLogprobs !== null && promptLogprobs > MAX_LOGPROBS) bad('prompt_logprobs', `Requested prompt logprobs of ${promptLogprobs}, which is greater than max allowed: ${MAX_LOGPROBS}`);
  if (temperature < SAMPLING_EPS) {
    temperature = 0;
    topP = 1;
    topK = 0;
    minP = 0;
    if (n > 1) bad('n', `n must be 1 when using greedy sampling, got ${n}.`);
  }
  return Object.freeze({
    n,
    temperature,
    topP,
    topK: topK === -1 ? 0 : topK,
    minP,
    seed,
    presencePenalty,
    frequencyPenalty,
    repetitionPenalty,
    stop: Object.freeze(stopStrings(raw.stop)),
    stopTokenIds: Object.freeze(stopTokenIds(raw.stop_token_ids)),
    ignoreEos: bool(raw, 'ignore_eos', false),
    maxTokens,
    minTokens,
    logprobs,
    promptLogprobs,
    logitBias: Object.freeze(logitBias(raw.logit_bias).map((e) => Object.freeze(e))),
    skipSpecialTokens: bool(raw, 'skip_special_tokens', true),
    includeStopStrInOutput: bool(raw, 'include_stop_str_in_output', false),
  });
}

/** Checks the token ids a request names against the model's vocabulary (vLLM does this at request time). */
export function validateForVocab(params: SamplingParams, vocabSize: number): void {
  const badBias = params.logitBias.map(([id]) => id).filter((id) => id < 0 || id >= vocabSize);
  if (badBias.length > 0) {
    bad('logit_bias', `token_id(s) [${badBias.join(', ')}] in logit_bias contain out-of-vocab token ids. Vocabulary size: ${vocabSize}`);
  }
  const badStop = params.stopTokenIds.filter((id) => id < 0 || id >= vocabSize);
  if (badStop.length > 0) {
    bad('stop_token_ids', `token_id(s) [${badStop.join(', ')}] in stop_token_ids contain out-of-vocab token ids. Vocabulary size: ${vocabSize}`);
  }
}

/** True when the sampler takes the argmax (no random draw). */
export function isGreedy(params: SamplingParams): boolean {
  return params.temperature < SAMPLING_EPS;
}
