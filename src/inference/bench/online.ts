/**
 * `ds bench serve --url`: load on a running OpenAI-compatible server, as vLLM's
 * benchmark_serving does it. Requests go to /v1/completions with stream=true, at Poisson
 * arrivals of --request-rate per second (Infinity: all at once), at most --max-concurrency in
 * flight. Prompts are token ids of exactly --input-len tokens (windows of a random text
 * tokenized by the client's tokenizer, so any OpenAI-compatible server will do), with ignore_eos
 * so each yields --output-len tokens; or lines of a JSONL file {"prompt": "...", "output_len": N}.
 * Output tokens are the server's usage when it streams one, else the client's count of the text.
 */
import { readFileSync } from 'node:fs';
import { InputError } from '../../errors.ts';
import { Rng } from '../../data/rng.ts';
import type { Tokenizer } from '../../data/tokenizer/types.ts';
import { postSse } from './sse_client.ts';
import { summarize, type OnlineBenchSummary, type RequestTiming } from './online_stats.ts';

export interface OnlineBenchOptions {
  readonly url: string;
  readonly model?: string;
  readonly apiKey?: string;
  readonly numPrompts: number;
  readonly requestRate: number;
  readonly maxConcurrency?: number;
  readonly inputLen: number;
  readonly outputLen: number;
  /** JSONL of {"prompt", "output_len"} instead of random prompts. */
  readonly datasetPath?: string;
  readonly seed?: number;
  /** The client's tokenizer (client_tokenizer.ts): makes random prompts and counts tokens. */
  readonly tokenizer?: Tokenizer;
}

export interface OnlineBenchResult extends OnlineBenchSummary {
  readonly config: Omit<OnlineBenchOptions, 'apiKey' | 'tokenizer'>;
  readonly errors: string[];
  /** Each request's prompt and output tokens, in the order they were sent (failed ones: ok false). */
  readonly requests: readonly { ok: boolean; promptLen: number; outputTokens: number }[];
}

interface BenchPrompt {
  readonly prompt: string | number[];
  readonly promptLen: number;
  readonly outputLen: number;
}

function headers(apiKey?: string): Record<string, string> {
  return { 'content-type': 'application/json', ...(apiKey ? { authorization: `Bearer ${apiKey}` } : {}) };
}

function randomPrompts(o: OnlineBenchOptions, rng: Rng): BenchPrompt[] {
  if (!o.tokenizer) throw new InputError('bench serve: random prompts of --input-len tokens need the client\'s --tokenizer (tokenizer.json, a model dir or a .gguf), or give --dataset');
  const words = Array.from({ length: Math.max(64, o.inputLen * 2) }, () => Array.from({ length: 2 + Math.floor(rng.next() * 6) }, () => String.fromCharCode(97 + Math.floor(rng.next() * 26))).join(''));
  const pool = o.tokenizer.encode(words.join(' '));
  if (pool.length < o.inputLen) throw new InputError(`bench serve: the random text gave ${pool.length} tokens, fewer than --input-len ${o.inputLen}`);
  return Array.from({ length: o.numPrompts }, () => {
    const start = Math.floor(rng.next() * (pool.length - o.inputLen + 1));
    return { prompt: pool.slice(start, start + o.inputLen), promptLen: o.inputLen, outputLen: o.outputLen };
  });
}

function filePrompts(path: string, o: OnlineBenchOptions): BenchPrompt[] {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const list = lines.map((line, i) => {
    let v: { prompt?: unknown; output_len?: unknown };
    try {
      v = JSON.parse(line) as typeof v;
    } catch {
      throw new InputError(`${path}:${i + 1}: not a JSON line`);
    }
    if (typeof v.prompt !== 'string') throw new InputError(`${path}:${i + 1}: "prompt" must be a string`);
    const out = v.output_len ?? o.outputLen;
    if (!Number.isInteger(out) || (out as number) < 1) throw new InputError(`${path}:${i + 1}: "output_len" must be a positive integer, got ${JSON.stringify(out)}`);
    return { prompt: v.prompt, promptLen: o.tokenizer?.encode(v.prompt).length ?? 0, outputLen: out as number };
  });
  if (list.length === 0) throw new InputError(`${path}: no prompts`);
  return Array.from({ length: o.numPrompts }, (_, i) => list[i % list.length]!);
}

/** One streamed request, timed from send to each chunk. */
async function timeRequest(o: OnlineBenchOptions, p: BenchPrompt): Promise<RequestTiming> {
  const t0 = performance.now();
  const body = { model: o.model, prompt: p.prompt, max_tokens: p.outputLen, temperature: 0, ignore_eos: true, stream: true, stream_options: { include_usage: true } };
  const fail = (error: string): RequestTiming => ({ ok: false, error, promptLen: p.promptLen, outputTokens: 0, ttft: null, latency: 0, itl: [] });
  let ttft = -1;
  let last = 0;
  const itl: number[] = [];
  let usage: { prompt_tokens: number; completion_tokens: number } | null = null;
  let text = '';
  let error: string | null = null;
  try {
    const r = await postSse(`${o.url}/v1/completions`, headers(o.apiKey), JSON.stringify(body), (event) => {
      if (event === '[DONE]' || error !== null) return;
      const chunk = JSON.parse(event) as { choices?: { text?: string }[]; usage?: typeof usage; error?: { message: string } };
      if (chunk.error) error = chunk.error.message;
      if (chunk.usage) usage = chunk.usage;
      const piece = chunk.choices?.[0]?.text;
      if (!piece) return;
      text += piece;
      const now = (performance.now() - t0) / 1000;
      if (ttft < 0) ttft = now;
      else itl.push(now - last);
      last = now;
    });
    if (r.errorBody !== null) return fail(`HTTP ${r.status}: ${r.errorBody}`);
    if (error !== null) return fail(error);
    const latency = (performance.now() - t0) / 1000;
    const u = usage as { prompt_tokens: number; completion_tokens: number } | null;
    const counted = ttft < 0 ? 0 : o.tokenizer ? o.tokenizer.encode(text).length : itl.length + 1;
    return { ok: true, promptLen: u?.prompt_tokens ?? p.promptLen, outputTokens: u?.completion_tokens ?? counted, ttft: ttft < 0 ? null : ttft, latency, itl };
  } catch (err) {
    return fail((err as Error).message);
  }
}

export async function runOnlineBench(o: OnlineBenchOptions): Promise<OnlineBenchResult> {
  if (!(o.requestRate > 0)) throw new InputError(`--request-rate must be positive (or inf), got ${o.requestRate}`);
  const rng = new Rng(o.seed ?? 0);
  const prompts = o.datasetPath ? filePrompts(o.datasetPath, o) : randomPrompts(o, rng);
  const limit = o.maxConcurrency ?? Infinity;
  let inFlight = 0;
  const slotFree: (() => void)[] = [];
  const t0 = performance.now();
  const jobs: Promise<RequestTiming>[] = [];
  for (const p of prompts) {
    while (inFlight >= limit) await new Promise<void>((r) => slotFree.push(r));
    inFlight++;
    jobs.push(
      timeRequest(o, p).finally(() => {
        inFlight--;
        slotFree.shift()?.();
      }),
    );
    // Poisson process: exponential gaps with mean 1 / rate.
    if (Number.isFinite(o.requestRate)) await new Promise((r) => setTimeout(r, (-Math.log(1 - rng.next()) / o.requestRate) * 1000));
  }
  const timings = await Promise.all(jobs);
  const duration = (performance.now() - t0) / 1000;
  const { apiKey: _key, tokenizer: _tok, ...config } = o;
  const errors = [...new Set(timings.filter((t) => !t.ok).map((t) => t.error!))];
  return { config, ...summarize(timings, duration), errors, requests: timings.map((t) => ({ ok: t.ok, promptLen: t.promptLen, outputTokens: t.outputTokens })) };
}
