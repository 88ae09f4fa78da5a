/**
 * The summary vLLM's benchmark_serving prints, from per-request timings: request and token
 * throughput, and TTFT, TPOT, ITL and end-to-end latency as mean / median / p99 (ms).
 *   TPOT of a request = (latency - ttft) / (output tokens - 1), for requests with > 1 token;
 *   ITL = every gap between consecutive streamed chunks, over all requests.
 */
export interface RequestTiming {
  readonly ok: boolean;
  readonly error?: string;
  readonly promptLen: number;
  readonly outputTokens: number;
  /** Seconds; null when no token came (it has no first token: left out of TTFT and TPOT, not counted as 0). */
  readonly ttft: number | null;
  readonly latency: number;
  readonly itl: readonly number[];
}

export interface Dist {
  mean: number;
  median: number;
  p99: number;
}

export interface OnlineBenchSummary {
  duration_s: number;
  completed: number;
  failed: number;
  total_input_tokens: number;
  total_output_tokens: number;
  request_throughput: number;
  output_throughput: number;
  total_token_throughput: number;
  ttft_ms: Dist;
  tpot_ms: Dist;
  itl_ms: Dist;
  e2el_ms: Dist;
}

/** Linear-interpolated percentile (numpy's default), q in [0, 100]. */
export function percentile(sorted: readonly number[], q: number): number {
  if (sorted.length === 0) return 0;
  const pos = ((sorted.length - 1) * q) / 100;
  const lo = Math.floor(pos);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (pos - lo);
}

export function dist(valuesSeconds: readonly number[]): Dist {
  const ms = valuesSeconds.map((v) => v * 1000).sort((a, b) => a - b);
  const mean = ms.length === 0 ? 0 : ms.reduce((a, b) => a + b, 0) / ms.length;
  return { mean, median: percentile(ms, 50), p99: percentile(ms, 99) };
}

export function summarize(timings: readonly RequestTiming[], durationS: number): OnlineBenchSummary {
  const ok = timings.filter((t) => t.ok);
  const input = ok.reduce((a, t) => a + t.promptLen, 0);
  const output = ok.reduce((a, t) => a + t.outputTokens, 0);
  return {
    duration_s: durationS,
    completed: ok.length,
    failed: timings.length - ok.length,
    total_input_tokens: input,
    total_output_tokens: output,
    request_throughput: ok.length / durationS,
    output_throughput: output / durationS,
    total_token_throughput: (input + output) / durationS,
    ttft_ms: dist(ok.flatMap((t) => (t.ttft === null ? [] : [t.ttft]))),
    tpot_ms: dist(ok.flatMap((t) => (t.ttft !== null && t.outputTokens > 1 ? [(t.latency - t.ttft) / (t.outputTokens - 1)] : []))),
    itl_ms: dist(ok.flatMap((t) => t.itl)),
    e2el_ms: dist(ok.map((t) => t.latency)),
  };
}
