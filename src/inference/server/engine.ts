/**
 * What the server needs of an engine. The real AsyncLLMEngine is wrapped to this shape
 * (see engine_adapter.ts); tests may supply their own. Outputs are vLLM's CUMULATIVE kind:
 * each RequestOutput carries the whole text and token ids so far, and the server takes deltas.
 */
import type { Tokenizer } from '../../data/tokenizer/types.ts';
import type { SampleLogprobs } from '../sampler/logprobs.ts';
import type { SamplingParams } from '../sampler/params.ts';

export interface CompletionOutput {
  /** Which of the request's n samples (0 … n-1). */
  readonly index: number;
  /** Output text so far (stop strings already cut, held-back tails not shown). */
  readonly text: string;
  readonly tokenIds: readonly number[];
  readonly cumulativeLogprob: number | null;
  /** One per token of tokenIds when the request asked for logprobs, else null. */
  readonly logprobs: readonly SampleLogprobs[] | null;
  readonly finishReason: 'stop' | 'length' | 'abort' | null;
  readonly stopReason: string | number | null;
}

/** Seconds since the epoch (performance.timeOrigin-based), as far as the engine knows them. */
export interface RequestMetrics {
  readonly arrivalTime: number;
  /** When the request first entered the running batch (ends its queue time). */
  readonly firstScheduledTime: number | null;
  readonly firstTokenTime: number | null;
}

export interface RequestOutput {
  readonly requestId: string;
  readonly promptTokenIds: readonly number[];
  /** Prompt logprobs (entry 0 is null), when asked for with params.promptLogprobs. */
  readonly promptLogprobs?: readonly (SampleLogprobs | null)[] | null;
  readonly outputs: readonly CompletionOutput[];
  readonly finished: boolean;
  readonly metrics?: RequestMetrics;
}

/** Live counters for /metrics (vLLM's scheduler and cache stats). */
export interface EngineStats {
  readonly numRunning: number;
  readonly numWaiting: number;
  /** Fraction of KV blocks in use, 0 … 1. */
  readonly kvCacheUsage: number;
  /** Prefix cache lookups and hits, in tokens, since start. */
  readonly prefixCacheQueries: number;
  readonly prefixCacheHits: number;
  readonly numPreemptions: number;
}

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
