/**
 * What the engine hands out, as vLLM's RequestOutput (camelCase here). Outputs are CUMULATIVE:
 * each carries the whole text and token ids so far; a streaming client takes the deltas.
 */
import type { SampleLogprobs } from '../sampler/logprobs.ts';

export type OutputFinishReason = 'stop' | 'length' | 'abort';

export interface CompletionOutput {
  /** Which of the request's n samples (0 … n-1). */
  readonly index: number;
  /** Output text so far (stop strings cut, a tail that may become a stop string held back). */
  readonly text: string;
  readonly tokenIds: readonly number[];
  /** Sum of the sampled tokens' logprobs when the request asked for logprobs, else null. */
  readonly cumulativeLogprob: number | null;
  readonly logprobs: readonly SampleLogprobs[] | null;
  readonly finishReason: OutputFinishReason | null;
  readonly stopReason: string | number | null;
}

/** Seconds since the epoch (Date.now() / 1000 based). */
export interface RequestMetrics {
  readonly arrivalTime: number;
  /** When the request first entered the running batch (ends its queue time). */
  readonly firstScheduledTime: number | null;
  readonly firstTokenTime: number | null;
  readonly finishedTime: number | null;
}

export interface RequestOutput {
  readonly requestId: string;
  /** The prompt text when the request gave text, else null. */
  readonly prompt: string | null;
  readonly promptTokenIds: readonly number[];
  readonly outputs: readonly CompletionOutput[];
  /**
   * With params.promptLogprobs: per prompt token, its logprob given the tokens before it (and the
   * top N), entry 0 null, as vLLM's prompt_logprobs. Null until the whole prompt has been computed.
   */
  readonly promptLogprobs: readonly (SampleLogprobs | null)[] | null;
  readonly finished: boolean;
  readonly metrics: RequestMetrics;
}

/** Live counters for /metrics (vLLM's scheduler and cache stats). */
export interface EngineStats {
  readonly numRunning: number;
  readonly numWaiting: number;
  /** Fraction of KV blocks in use, 0 … 1. */
  readonly kvCacheUsage: number;
  readonly prefixCacheQueries: number;
  readonly prefixCacheHits: number;
  readonly numPreemptions: number;
}
