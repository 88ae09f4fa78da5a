/**
 * What the server needs of an engine. AsyncLLMEngine has this shape; tests may supply their own. Outputs are vLLM's CUMULATIVE kind:
 * each RequestOutput carries the whole text and token ids so far, and the server takes deltas.
 */
import type { Tokenizer } from '../../data/tokenizer/types.ts';
import type { CompletionOutput, EngineStats, RequestMetrics as EngineRequestMetrics, RequestOutput as EngineRequestOutput } from '../engine/outputs.ts';
import type { SamplingParams } from '../sampler/params.ts';

export type { CompletionOutput, EngineStats };

/** The timings the server reads (seconds since the epoch), as far as the engine knows them. */
export type RequestMetrics = Pick<EngineRequestMetrics, 'arrivalTime' | 'firstScheduledTime' | 'firstTokenTime'>;

/**
 * The engine's RequestOutput as the server reads it: the prompt text is not needed, and prompt
 * logprobs and timings may be absent (an engine written for tests need not keep them).
 */
export type RequestOutput = Omit<EngineRequestOutput, 'prompt' | 'promptLogprobs' | 'metrics'> & {
  readonly promptLogprobs?: EngineRequestOutput['promptLogprobs'];
  readonly metrics?: RequestMetrics;
};

export interface ServingEngine {
  readonly tokenizer: Tokenizer;
  /** Longest prompt + output the engine serves. */
  readonly maxModelLen: number;
  readonly vocabSize: number;
  readonly eosTokenId: number | null;
  /**
   * Streams the request's outputs; the last has finished = true. Ending the iteration early
   * (return()) or aborting `signal` aborts the request and frees its KV blocks.
   */
  generate(promptTokenIds: readonly number[], params: SamplingParams, requestId: string, signal?: AbortSignal): AsyncIterable<RequestOutput>;
  abort(requestId: string): void;
  stats(): EngineStats;
  /** Set when the engine loop died: the server reports unhealthy. */
  readonly error: Error | null;
  shutdown(): Promise<void>;
}
