/** POST /v1/completions: prompt (text, texts, token ids, lists of token ids) → text_completion. */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { InvalidRequestError } from '../../errors.ts';
import { addsBos } from '../../data/tokenizer/types.ts';
import type { SampleLogprobs } from '../sampler/logprobs.ts';
import type { ServingEngine } from './engine.ts';
import type { PromptJob } from './generation.ts';
import { appendCompletionLogprobs, emptyCompletionLogprobs } from './logprobs_format.ts';
import { respond, type ChoiceResult, type Formatter, type ResponseContext } from './respond.ts';
import { completionParams } from './sampling.ts';
import { completionRequest, parseRequest, type CompletionRequest } from './schemas.ts';

export interface ModelContext extends ResponseContext {
  /** Checks the request's `model` and returns the name to answer with (404 if unknown). */
  resolveModel(model: string | null | undefined): string;
}

function promptIds(engine: ServingEngine, prompt: CompletionRequest['prompt']): { ids: number[]; text: string | null }[] {
  const list: (string | number[])[] =
    typeof prompt === 'string' ? [prompt] : prompt.length > 0 && typeof prompt[0] === 'number' ? [prompt as number[]] : (prompt as (string | number[])[]);
  if (list.length === 0) throw new InvalidRequestError('prompt must not be empty', 'prompt');
  return list.map((p, i) => {
    const at = list.length > 1 ? `prompt.${i}` : 'prompt';
    if (typeof p === 'string') {
      const ids = engine.tokenizer.encode(p, { addBos: addsBos(engine.tokenizer), allowSpecial: true });
      if (ids.length === 0) throw new InvalidRequestError(`${at} is empty; it must have at least one token`, at);
      return { ids, text: p };
    }
    if (p.length === 0) throw new InvalidRequestError(`${at} is empty; it must have at least one token`, at);
    const bad = p.find((t) => t < 0 || t >= engine.vocabSize);
    if (bad !== undefined) throw new InvalidRequestError(`${at} has token id ${bad}, outside the vocabulary of ${engine.vocabSize}`, at);
    return { ids: p, text: null };
  });
}

function formatter(engine: ServingEngine, req: CompletionRequest, prompts: { ids: number[]; text: string | null }[]): Formatter {
  const topN = req.logprobs ?? 0;
  const tok = engine.tokenizer;
  const promptText = (p: number) => prompts[p]!.text ?? tok.decode(prompts[p]!.ids);
  const offsets = new Map<number, number>(); // streaming: text offset per choice so far
  return {
    opening: () => null,
    chunkChoice(d) {
      const first = !offsets.has(d.index);
      const echo = req.echo && first ? promptText(d.promptIndex) : '';
      let logprobs = null;
      if (req.logprobs != null && d.logprobs) {
        logprobs = emptyCompletionLogprobs();
        offsets.set(d.index, appendCompletionLogprobs(logprobs, tok, d.tokenIds, d.logprobs, topN, (offsets.get(d.index) ?? 0) + echo.length));
      } else offsets.set(d.index, (offsets.get(d.index) ?? 0) + echo.length + d.text.length);
      return { index: d.index, text: echo + d.text, logprobs, finish_reason: d.finishReason, stop_reason: d.stopReason };
    },
    finalChoice(r: ChoiceResult, promptLogprobs: readonly (SampleLogprobs | null)[] | null) {
      const echo = req.echo ? promptText(r.promptIndex) : '';
      let logprobs = null;
      if (req.logprobs != null) {
        logprobs = emptyCompletionLogprobs();
        let offset = 0;
        if (req.echo) {
          const ids = prompts[r.promptIndex]!.ids;
          offset = appendCompletionLogprobs(logprobs, tok, ids, ids.map((_, i) => promptLogprobs?.[i] ?? null), topN, 0);
          offset = echo.length; // token strings may not add up to the text (BOS, fragments)
        }
        appendCompletionLogprobs(logprobs, tok, r.tokenIds, r.logprobs, topN, offset);
      }
      return { index: r.index, text: echo + r.text, logprobs, finish_reason: r.finishReason, stop_reason: r.stopReason };
    },
  };
}

export async function handleCompletion(ctx: ModelContext, body: unknown, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const req = parseRequest(completionRequest, body);
  const model = ctx.resolveModel(req.model);
  if (req.suffix) throw new InvalidRequestError('suffix is not supported', 'suffix');
  const { engine } = ctx;
  const prompts = promptIds(engine, req.prompt);
  const jobs: PromptJob[] = prompts.map((p) => ({
    promptTokenIds: p.ids,
    params: completionParams(req, { promptLen: p.ids.length, maxModelLen: engine.maxModelLen, vocabSize: engine.vocabSize }),
  }));
  await respond(
    ctx,
    { id: `cmpl-${randomUUID().replaceAll('-', '')}`, object: 'text_completion', chunkObject: 'text_completion', model, jobs, stream: req.stream ?? false, includeUsage: req.stream_options?.include_usage ?? false },
    formatter(engine, req, prompts),
    res,
    signal,
  );
}
