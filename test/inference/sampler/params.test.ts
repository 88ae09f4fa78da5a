import { describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../src/errors.ts';
import { makeSamplingParams, validateForVocab, type SamplingParamsInput } from '../../../src/inference/sampler/index.ts';

function errorOf(fn: () => unknown): InvalidRequestError {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(InvalidRequestError);
    return e as InvalidRequestError;
  }
  throw new Error('expected an InvalidRequestError');
}

describe('makeSamplingParams', () => {
  it("has vLLM's defaults and is frozen", () => {
    const p = makeSamplingParams({});
    expect(p).toMatchObject({
      n: 1, temperature: 1, topP: 1, topK: 0, minP: 0, seed: null, presencePenalty: 0, frequencyPenalty: 0,
      repetitionPenalty: 1, stop: [], stopTokenIds: [], ignoreEos: false, maxTokens: null, minTokens: 0,
      logprobs: null, promptLogprobs: null, logitBias: [], skipSpecialTokens: true, includeStopStrInOutput: false,
    });
    expect(Object.isFrozen(p)).toBe(true);
    expect(Object.isFrozen(p.stop)).toBe(true);
  });

  it('normalizes: a stop string becomes a list, top_k -1 is off, logprobs true is 1, logit_bias keys are ids', () => {
    const p = makeSamplingParams({ stop: '###', top_k: -1, logprobs: true, logit_bias: { '5': -100, '7': 2.5 } });
    expect(p.stop).toEqual(['###']);
    expect(p.topK).toBe(0);
    expect(p.logprobs).toBe(1);
    expect(p.logitBias).toEqual([[5, -100], [7, 2.5]]);
  });

  it('greedy (temperature 0) turns off top_p, top_k and min_p', () => {
    const p = makeSamplingParams({ temperature: 0, top_p: 0.5, top_k: 3, min_p: 0.2 });
    expect([p.temperature, p.topP, p.topK, p.minP]).toEqual([0, 1, 0, 0]);
  });

  const cases: [SamplingParamsInput, string, string][] = [
    [{ n: 0 }, 'n', 'n must be at least 1, got 0.'],
    [{ temperature: -1 }, 'temperature', 'temperature must be non-negative, got -1.'],
    [{ top_p: 0 }, 'top_p', 'top_p must be in (0, 1], got 0.'],
    [{ top_p: 1.5 }, 'top_p', 'top_p must be in (0, 1], got 1.5.'],
    [{ top_k: -2 }, 'top_k', 'top_k must be 0 (disable), or at least 1, got -2.'],
    [{ top_k: 2.5 }, 'top_k', 'top_k must be an integer, got 2.5'],
    [{ min_p: 1.1 }, 'min_p', 'min_p must be in [0, 1], got 1.1.'],
    [{ presence_penalty: 2.1 }, 'presence_penalty', 'presence_penalty must be in [-2, 2], got 2.1.'],
    [{ frequency_penalty: -2.1 }, 'frequency_penalty', 'frequency_penalty must be in [-2, 2], got -2.1.'],
    [{ repetition_penalty: 0 }, 'repetition_penalty', 'repetition_penalty must be greater than zero, got 0.'],
    [{ max_tokens: 0 }, 'max_tokens', 'max_tokens must be at least 1, got 0.'],
    [{ min_tokens: -1 }, 'min_tokens', 'min_tokens must be greater than or equal to 0, got -1.'],
    [{ max_tokens: 4, min_tokens: 5 }, 'min_tokens', 'min_tokens must be less than or equal to max_tokens=4, got 5.'],
    [{ logprobs: -1 }, 'logprobs', 'logprobs must be non-negative, got -1.'],
    [{ logprobs: 21 }, 'logprobs', 'Requested sample logprobs of 21, which is greater than max allowed: 20'],
    [{ prompt_logprobs: -3 }, 'prompt_logprobs', 'prompt_logprobs must be non-negative, got -3.'],
    [{ stop: ['a', ''] }, 'stop', 'stop cannot contain an empty string.'],
    [{ stop_token_ids: [1, 2.5] }, 'stop_token_ids', 'stop_token_ids must contain only integers, got [1,2.5].'],
    [{ n: 2, temperature: 0 }, 'n', 'n must be 1 when using greedy sampling, got 2.'],
    [{ logit_bias: { '3': 101 } }, 'logit_bias', 'logit_bias[3] must be in [-100, 100], got 101.'],
    [{ logit_bias: { x: 1 } }, 'logit_bias', 'logit_bias keys must be token ids (integers), got "x"'],
    [{ temperature: 'hot' as unknown as number }, 'temperature', 'temperature must be a number, got "hot"'],
  ];
  for (const [input, param, message] of cases) {
    it(`${JSON.stringify(input)} → ${message}`, () => {
      const e = errorOf(() => makeSamplingParams(input));
      expect(e.message).toBe(message);
      expect(e.param).toBe(param);
      expect(e.status).toBe(400);
    });
  }
});

describe('validateForVocab', () => {
  it('rejects logit_bias and stop_token_ids outside the vocabulary', () => {
    const p = makeSamplingParams({ logit_bias: { '3': 1, '100': 2, '-1': 1 } });
    const e = errorOf(() => validateForVocab(p, 100));
    expect(e.message).toBe('token_id(s) [100, -1] in logit_bias contain out-of-vocab token ids. Vocabulary size: 100');
    expect(e.param).toBe('logit_bias');
    const s = makeSamplingParams({ stop_token_ids: [99, 100] });
    expect(errorOf(() => validateForVocab(s, 100)).param).toBe('stop_token_ids');
    expect(() => validateForVocab(makeSamplingParams({ logit_bias: { '99': 1 } }), 100)).not.toThrow();
  });
});
