/** The online benchmark: its statistics against hand-computed values, and a short run on the toy server. */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { runOnlineBench } from '../../../src/inference/bench/online.ts';
import { benchModelConfig, writeRandomGguf } from '../../../src/inference/bench/random_model.ts';
import { serveOnlineHandler } from '../../../src/cli/commands/bench/serve_online.ts';
import { dist, percentile, summarize } from '../../../src/inference/bench/online_stats.ts';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { InputError } from '../../../src/errors.ts';
import { MODEL, startToyServer, tinyTokenizer, type Running } from '../server/helpers/setup.ts';

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
        { ok: false, error: 'x', promptLen: 10, outputTokens: 0, ttft: null, latency: 0, itl: [] },
        // a request that produced no token (max_tokens 0, or an immediate stop): no TTFT, not a TTFT of 0
        { ok: true, promptLen: 10, outputTokens: 0, ttft: null, latency: 0.05, itl: [] },
      ],
      2,
    );
    expect(s).toMatchObject({ completed: 3, failed: 1, total_input_tokens: 30, total_output_tokens: 6, request_throughput: 1.5, output_throughput: 3, total_token_throughput: 18 });
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
    const r = await runOnlineBench({ url: s.url, model: MODEL, numPrompts: 12, requestRate: 200, maxConcurrency: 4, inputLen: 8, outputLen: 5, seed: 1, tokenizer: tinyTokenizer() });
    expect(r.errors).toEqual([]);
    expect(r).toMatchObject({ completed: 12, failed: 0, total_input_tokens: 96, total_output_tokens: 60 });
    expect(r.ttft_ms.mean).toBeGreaterThan(0);
    expect(r.e2el_ms.p99).toBeGreaterThanOrEqual(r.e2el_ms.median);
    expect(r.itl_ms.mean).toBeGreaterThan(0);
    expect(s.engine.stats().kvCacheUsage).toBe(0);
  });
});

/**
 * Another OpenAI-compatible server, as llama-server answers: no /tokenize this client could use,
 * no usage in the stream, SSE comments between events, text split across reads mid-character.
 */
function otherServer(prompts: unknown[], eol = '\n'): Promise<{ server: Server; url: string }> {
  const server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (req.url !== '/v1/completions') {
        res.writeHead(404).end('{"error":"not found"}');
        return;
      }
      const r = JSON.parse(body) as { prompt: unknown; max_tokens: number };
      prompts.push(r.prompt);
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write(`: keep-alive${eol}${eol}`);
      // max_tokens tokens: 'é' (two bytes, no merge: two byte tokens) then 'x' (one) …
      const pieces = ['é', ...Array.from({ length: r.max_tokens - 2 }, () => 'x')];
      const bytes = Buffer.from(pieces.map((t) => `data: ${JSON.stringify({ choices: [{ index: 0, text: t }] })}${eol}${eol}`).join('') + `data: [DONE]${eol}${eol}`);
      // Reads split inside 'é', and (CRLF) between a CR and its LF.
      const cuts = [bytes.indexOf(Buffer.from('é')) + 1, ...(eol === '\r\n' ? [bytes.indexOf(Buffer.from('\r\n'), bytes.indexOf(Buffer.from('x'))) + 1] : [])];
      let from = 0;
      cuts.forEach((c, i) => setTimeout(() => { res.write(bytes.subarray(from, c)); from = c; }, 2 * i));
      setTimeout(() => res.end(bytes.subarray(from)), 2 * cuts.length + 2);
    });
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve({ server, url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` })));
}

describe('runOnlineBench against any OpenAI-compatible server', () => {
  it('tokenizes on the client: prompts of --input-len ids, output tokens counted from the text', async () => {
    const prompts: unknown[] = [];
    const { server, url } = await otherServer(prompts);
    try {
      const r = await runOnlineBench({ url, numPrompts: 6, requestRate: Infinity, maxConcurrency: 3, inputLen: 10, outputLen: 7, seed: 2, tokenizer: tinyTokenizer() });
      expect(r.errors).toEqual([]);
      expect(r).toMatchObject({ completed: 6, failed: 0, total_input_tokens: 60, total_output_tokens: 42 });
      expect(prompts).toHaveLength(6);
      for (const p of prompts) expect((p as number[]).length).toBe(10);
    } finally {
      server.close();
    }
  });

  it('reads CRLF event streams (sse-starlette), a CR and its LF split across reads', async () => {
    const prompts: unknown[] = [];
    const { server, url } = await otherServer(prompts, '\r\n');
    try {
      const r = await runOnlineBench({ url, numPrompts: 4, requestRate: Infinity, maxConcurrency: 2, inputLen: 10, outputLen: 7, seed: 2, tokenizer: tinyTokenizer() });
      expect(r.errors).toEqual([]);
      expect(r).toMatchObject({ completed: 4, failed: 0, total_output_tokens: 28 });
    } finally {
      server.close();
    }
  });

  it('without a tokenizer, random prompts are refused naming --tokenizer', async () => {
    await expect(runOnlineBench({ url: 'http://127.0.0.1:1', numPrompts: 1, requestRate: 1, inputLen: 4, outputLen: 1 })).rejects.toThrow(InputError);
    await expect(runOnlineBench({ url: 'http://127.0.0.1:1', numPrompts: 1, requestRate: 1, inputLen: 4, outputLen: 1 })).rejects.toThrow(/--tokenizer/);
  });
});

describe('ds bench serve --model', () => {
  it('starts ds serve in a child process, loads it, and stops it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ds-bench-child-'));
    const write = process.stdout.write;
    try {
      const path = join(dir, 'tiny.gguf');
      writeRandomGguf(path, benchModelConfig({ hiddenSize: 32, numHeads: 2, numKvHeads: 2, headDim: 16, intermediateSize: 64, numLayers: 1 }), 3);
      process.stdout.write = (() => true) as typeof process.stdout.write; // the report
      const r = await serveOnlineHandler({
        model: path, 'num-prompts': 4, 'request-rate': Infinity, 'max-concurrency': 2, 'input-len': 8, 'output-len': 4, seed: 0,
        'kv-cache-memory': '8MiB', 'max-num-seqs': 2, threads: 1, json: true,
      });
      expect(r.errors).toEqual([]);
      expect(r).toMatchObject({ completed: 4, total_input_tokens: 32, total_output_tokens: 16 });
    } finally {
      process.stdout.write = write;
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
