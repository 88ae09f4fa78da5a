/**
 * The response loop shared by /v1/completions and /v1/chat/completions: runs the prompts,
 * feeds the metrics, and answers either as one JSON body (with usage) or as server-sent
 * events (chunks, an optional usage chunk with empty choices, then [DONE]). What a choice
 * looks like is the endpoint's Formatter.
 */
import type { ServerResponse } from 'node:http';
import type { SampleLogprobs } from '../sampler/logprobs.ts';
import type { RequestMetrics, ServingEngine } from './engine.ts';
import { generateAll, type ChoiceDelta, type PromptJob } from './generation.ts';
import { sendJson, SseWriter } from './http.ts';
import type { ServerMetrics } from './metrics.ts';

/** Everything one choice produced, for the non-streaming body. */
export interface ChoiceResult {
  readonly index: number;
  readonly promptIndex: number;
  text: string;
  readonly tokenIds: number[];
  readonly logprobs: SampleLogprobs[];
  finishReason: 'stop' | 'length' | 'abort' | null;
  stopReason: string | number | null;
}

export interface Formatter {
  /** Choices sent before any output (chat's `delta.role`), one chunk each. */
  opening(index: number): Record<string, unknown> | null;
  chunkChoice(delta: ChoiceDelta): Record<string, unknown>;
  finalChoice(result: ChoiceResult, promptLogprobs: readonly (SampleLogprobs | null)[] | null): Record<string, unknown>;
}

export interface GenerationRequest {
  readonly id: string;
  readonly object: string;
  readonly chunkObject: string;
  readonly model: string;
  readonly jobs: readonly PromptJob[];
  readonly stream: boolean;
  readonly includeUsage: boolean;
}

export interface ResponseContext {
  readonly engine: ServingEngine;
  readonly metrics: ServerMetrics;
}

function usage(jobs: readonly PromptJob[], completionTokens: number) {
  const prompt = jobs.reduce((a, j) => a + j.promptTokenIds.length, 0);
  return { prompt_tokens: prompt, completion_tokens: completionTokens, total_tokens: prompt + completionTokens };
}

export async function respond(ctx: ResponseContext, req: GenerationRequest, fmt: Formatter, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const tracker = ctx.metrics.startRequest();
  const n = req.jobs[0]!.params.n;
  const created = Math.floor(Date.now() / 1000);
  const head = { id: req.id, object: req.stream ? req.chunkObject : req.object, created, model: req.model };
  const results: ChoiceResult[] = req.jobs.flatMap((_, p) =>
    Array.from({ length: n }, (_, i) => ({ index: p * n + i, promptIndex: p, text: '', tokenIds: [], logprobs: [], finishReason: null, stopReason: null })),
  );
  const promptLogprobs: (readonly (SampleLogprobs | null)[] | null)[] = req.jobs.map(() => null);
  const engineMetrics: (RequestMetrics | undefined)[] = req.jobs.map(() => undefined);
  const promptTokens = usage(req.jobs, 0).prompt_tokens;
  let sse: SseWriter | null = null;
  let finishReason: string | null = null;
  try {
    for await (const ev of generateAll(ctx.engine, req.jobs, req.id, signal)) {
      if (ev.output.promptLogprobs) promptLogprobs[ev.promptIndex] = ev.output.promptLogprobs;
      engineMetrics[ev.promptIndex] = ev.output.metrics;
      tracker.onTokens(ev.deltas.reduce((a, d) => a + d.tokenIds.length, 0));
      if (req.stream && !sse) {
        sse = new SseWriter(res);
        for (const r of results) {
          const open = fmt.opening(r.index);
          if (open) sse.send({ ...head, choices: [open], ...(req.includeUsage ? { usage: null } : {}) });
        }
      }
      for (const d of ev.deltas) {
        const r = results[d.index]!;
        r.text += d.text;
        r.tokenIds.push(...d.tokenIds);
        if (d.logprobs) r.logprobs.push(...d.logprobs);
        r.finishReason = d.finishReason;
        r.stopReason = d.stopReason;
        if (sse && d.finishReason !== 'abort') sse.send({ ...head, choices: [fmt.chunkChoice(d)], ...(req.includeUsage ? { usage: null } : {}) });
      }
    }
    finishReason = results[0]?.finishReason ?? null;
  } finally {
    tracker.finish(promptTokens, signal.aborted ? null : finishReason, engineMetrics[0]);
  }
  if (signal.aborted) return;
  const completionTokens = results.reduce((a, r) => a + r.tokenIds.length, 0);
  if (req.stream) {
    sse ??= new SseWriter(res);
    if (req.includeUsage) sse.send({ ...head, choices: [], usage: usage(req.jobs, completionTokens) });
    sse.done();
    return;
  }
  const choices = results.map((r) => fmt.finalChoice(r, promptLogprobs[r.promptIndex] ?? null));
  sendJson(res, 200, { ...head, choices, usage: usage(req.jobs, completionTokens) });
}
