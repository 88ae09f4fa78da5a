/**
 * /metrics in Prometheus text format, with vLLM's metric names and meanings under the `vllm:`
 * prefix (so vLLM's dashboards work unchanged). Every metric carries `model_name`.
 *   gauges      vllm:num_requests_running, vllm:num_requests_waiting,
 *               vllm:kv_cache_usage_perc (= vllm:gpu_cache_usage_perc, the older name), 0 … 1
 *   counters    vllm:prefix_cache_queries_total, vllm:prefix_cache_hits_total (tokens),
 *               vllm:prompt_tokens_total, vllm:generation_tokens_total,
 *               vllm:num_preemptions_total, vllm:request_success_total{finished_reason}
 *   histograms  vllm:time_to_first_token_seconds, vllm:inter_token_latency_seconds
 *               (= vllm:time_per_output_token_seconds), vllm:e2e_request_latency_seconds,
 *               vllm:request_queue_time_seconds
 * Gauges and engine counters are read from engine.stats() at scrape time; the rest are
 * observed per request by RequestTracker. One registry per server (tests run several).
 */
import { Counter, Gauge, Histogram, Registry } from 'prom-client';
import type { EngineStats, RequestMetrics } from './engine.ts';

const LATENCY_BUCKETS = [0.001, 0.005, 0.01, 0.02, 0.04, 0.06, 0.08, 0.1, 0.25, 0.5, 0.75, 1, 2.5, 5, 7.5, 10, 20, 40, 80];

export class ServerMetrics {
  readonly registry = new Registry();
  private readonly labels: { model_name: string };
  private readonly promptTokens: Counter<'model_name'>;
  private readonly generationTokens: Counter<'model_name'>;
  private readonly success: Counter<'model_name' | 'finished_reason'>;
  readonly ttft: Histogram<'model_name'>;
  private readonly itl: Histogram<'model_name'>[];
  private readonly e2e: Histogram<'model_name'>;
  private readonly queue: Histogram<'model_name'>;

  constructor(modelName: string, stats: () => EngineStats | null) {
    this.labels = { model_name: modelName };
    const registers = [this.registry];
    const labelNames = ['model_name'] as const;
    const gauge = (name: string, help: string, read: (s: EngineStats) => number) =>
      new Gauge({ name, help, labelNames, registers, collect() { const s = stats(); this.set({ model_name: modelName }, s ? read(s) : 0); } });
    gauge('vllm:num_requests_running', 'Requests in the running batch.', (s) => s.numRunning);
    gauge('vllm:num_requests_waiting', 'Requests waiting to be scheduled.', (s) => s.numWaiting);
    gauge('vllm:kv_cache_usage_perc', 'KV-cache usage, 1 = all blocks in use.', (s) => s.kvCacheUsage);
    gauge('vllm:gpu_cache_usage_perc', 'KV-cache usage, 1 = all blocks in use (older name).', (s) => s.kvCacheUsage);
    // Engine counters are cumulative; a prom-client counter only increments, by the difference.
    const mirrored = (name: string, help: string, read: (s: EngineStats) => number) => {
      let seen = 0;
      return new Counter({
        name, help, labelNames, registers,
        collect() {
          const s = stats();
          const now = s ? read(s) : seen;
          if (now > seen) this.inc({ model_name: modelName }, now - seen);
          seen = Math.max(seen, now);
        },
      });
    };
    mirrored('vllm:prefix_cache_queries_total', 'Prefix-cache lookups, in tokens.', (s) => s.prefixCacheQueries);
    mirrored('vllm:prefix_cache_hits_total', 'Prefix-cache hits, in tokens.', (s) => s.prefixCacheHits);
    mirrored('vllm:num_preemptions_total', 'Cumulative preemptions.', (s) => s.numPreemptions);
    this.promptTokens = new Counter({ name: 'vllm:prompt_tokens_total', help: 'Prefill tokens processed.', labelNames, registers });
    this.generationTokens = new Counter({ name: 'vllm:generation_tokens_total', help: 'Generation tokens processed.', labelNames, registers });
    this.success = new Counter({ name: 'vllm:request_success_total', help: 'Finished requests.', labelNames: ['model_name', 'finished_reason'], registers });
    const hist = (name: string, help: string) => new Histogram({ name, help, labelNames, registers, buckets: LATENCY_BUCKETS });
    this.ttft = hist('vllm:time_to_first_token_seconds', 'Time to first token.');
    this.itl = [
      hist('vllm:inter_token_latency_seconds', 'Time between output tokens.'),
      hist('vllm:time_per_output_token_seconds', 'Time between output tokens (older name).'),
    ];
    this.e2e = hist('vllm:e2e_request_latency_seconds', 'End-to-end request latency.');
    this.queue = hist('vllm:request_queue_time_seconds', 'Time spent waiting to be scheduled.');
  }

  startRequest(): RequestTracker {
    return new RequestTracker(this);
  }

  /** @internal — RequestTracker reports through these. */
  record(kind: 'ttft' | 'itl' | 'e2e' | 'queue', seconds: number): void {
    if (kind === 'itl') for (const h of this.itl) h.observe(this.labels, seconds);
    else (kind === 'ttft' ? this.ttft : kind === 'e2e' ? this.e2e : this.queue).observe(this.labels, seconds);
  }

  /** @internal */
  count(promptTokens: number, generationTokens: number, finishedReason: string | null): void {
    this.promptTokens.inc(this.labels, promptTokens);
    this.generationTokens.inc(this.labels, generationTokens);
    if (finishedReason) this.success.inc({ ...this.labels, finished_reason: finishedReason });
  }
}

/** Times of one API request, as its events pass through the server. */
export class RequestTracker {
  private readonly start = performance.now();
  private last: number | null = null;
  private generationTokens = 0;

  constructor(private readonly metrics: ServerMetrics) {}

  /** A new output event with `newTokens` tokens (all choices together). */
  onTokens(newTokens: number): void {
    if (newTokens === 0) return;
    const now = performance.now();
    if (this.last === null) this.metrics.record('ttft', (now - this.start) / 1000);
    else this.metrics.record('itl', (now - this.last) / 1000);
    this.last = now;
    this.generationTokens += newTokens;
  }

  /** The request ended (finishReason null: it failed or the client left). */
  finish(promptTokens: number, finishReason: string | null, engine?: RequestMetrics): void {
    this.metrics.record('e2e', (performance.now() - this.start) / 1000);
    if (engine?.firstScheduledTime != null) this.metrics.record('queue', Math.max(0, engine.firstScheduledTime - engine.arrivalTime));
    this.metrics.count(promptTokens, this.generationTokens, finishReason);
  }
}
