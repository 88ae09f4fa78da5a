/** The online benchmark: its statistics against hand-computed values, and a short run on the toy server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { runOnlineBench } from '../../../src/inference/bench/online.ts';
import { dist, percentile, summarize } from '../../../src/inference/bench/online_stats.ts';
import { MODEL, startToyServer, type Running } from '../server/helpers/setup.ts';

describe('online bench statistics', () => {
  it('percentiles interpolate linearly, as numpy does', () => {
    const v = Array.from({ length: 100 }, (_, i) => i + 1);
    expect(percentile(v, 50)).toBeCloseTo(50.5, 12);
    expect(percentile(v, 99)).toBeCloseTo(99.01, 12);
    expect(dist([0.001, 0.002, 0.006])).toEqual({ mean: 3, median: 2, p99: expect.closeTo(5.92, 10) as unknown as number });
  });

  it('TPOT excludes the first token; throughput divides by the duration', () => {
    const s = summarize(
      [
        { ok: true, promptLen: 10, outputTokens: 5, ttft: 0.1, latency: 0.5, itl: [0.1, 0.1, 0.1, 0.1] },
        { ok: true, promptLen: 10, outputTokens: 1, ttft: 0.2, latency: 0.2, itl: [] },
        { ok: false, error: 'x', promptLen: 10, outputTokens: 0, ttft: 0, latency: 0, itl: [] },
      ],
      2,
    );
    expect(s).toMatchObject({ completed: 2, failed: 1, total_input_tokens: 20, total_output_tokens: 6, request_throughput: 1, output_throughput: 3, total_token_throughput: 13 });
    expect(s.tpot_ms.mean).toBeCloseTo(100, 9);
    expect(s.ttft_ms.mean).toBeCloseTo(150, 9);
    expect(s.itl_ms.median).toBeCloseTo(100, 9);
  });
});

describe('runOnlineBench', () => {
  let s: Running;
  beforeAll(async () => (s = await startToyServer()));
  afterAll(async () => s.app.close());

  it('drives a server with Poisson arrivals and max concurrency; every token is counted', async () => {
    const r = await runOnlineBench({ url: s.url, model: MODEL, numPrompts: 12, requestRate: 200, maxConcurrency: 4, inputLen: 8, outputLen: 5, seed: 1 });
    expect(r.errors).toEqual([]);
    expect(r).toMatchObject({ completed: 12, failed: 0, total_input_tokens: 96, total_output_tokens: 60 });
    expect(r.ttft_ms.mean).toBeGreaterThan(0);
    expect(r.e2el_ms.p99).toBeGreaterThanOrEqual(r.e2el_ms.median);
    expect(r.itl_ms.mean).toBeGreaterThan(0);
    expect(s.engine.stats().kvCacheUsage).toBe(0);
  });
});
