/** POST /v1/chat/completions: messages → chat template → prompt → chat.completion(.chunk). */
import { randomUUID } from 'node:crypto';
import type { ServerResponse } from 'node:http';
import { InvalidRequestError } from '../../errors.ts';
import { renderChat } from './chat_template.ts';
import { addsBos } from '../../data/tokenizer/types.ts';
import type { ModelContext } from './completions.ts';
import { chatLogprobs } from './logprobs_format.ts';
import { respond, type Formatter } from './respond.ts';
import { chatParams } from './sampling.ts';
import { chatRequest, parseRequest, type ChatRequest } from './schemas.ts';
import type { ServingEngine } from './engine.ts';

function formatter(engine: ServingEngine, req: ChatRequest): Formatter {
  const topN = req.top_logprobs ?? 0;
  const logprobs = (ids: readonly number[], lps: Parameters<typeof chatLogprobs>[2] | null) =>
    req.logprobs && lps ? { content: chatLogprobs(engine.tokenizer, ids, lps, topN) } : null;
  return {
    // OpenAI's first chunk of each choice names the role, with empty content.
    opening: (index) => ({ index, delta: { role: 'assistant', content: '' }, logprobs: null, finish_reason: null }),
    chunkChoice: (d) => ({
      index: d.index,
      delta: d.text === '' && d.finishReason !== null ? {} : { content: d.text },
      logprobs: logprobs(d.tokenIds, d.logprobs),
      finish_reason: d.finishReason,
      stop_reason: d.stopReason,
    }),
    finalChoice: (r) => ({
      index: r.index,
      message: { role: 'assistant', content: r.text },
      logprobs: logprobs(r.tokenIds, r.logprobs),
      finish_reason: r.finishReason,
      stop_reason: r.stopReason,
    }),
  };
}

/**
 * The prompt a chat request becomes: its rendered template, tokenized without adding BOS
 * (templates carry their own) unless `addSpecialTokens` (vLLM's add_special_tokens, default
 * false for chat) asks for the tokenizer's BOS on top.
 */
export function chatPromptIds(engine: Pick<ServingEngine, 'tokenizer'>, messages: ChatRequest['messages'], addGenerationPrompt: boolean, template?: string | null, addSpecialTokens = false): number[] {
  const text = renderChat(engine.tokenizer, messages, { addGenerationPrompt, template });
  const ids = engine.tokenizer.encode(text, { addBos: addSpecialTokens && addsBos(engine.tokenizer), allowSpecial: true });
  if (ids.length === 0) throw new InvalidRequestError('the messages render to an empty prompt', 'messages');
  return ids;
}

export async function handleChat(ctx: ModelContext, body: unknown, res: ServerResponse, signal: AbortSignal): Promise<void> {
  const req = parseRequest(chatRequest, body);
  const model = ctx.resolveModel(req.model);
  const { engine } = ctx;
  const ids = chatPromptIds(engine, req.messages, req.add_generation_prompt ?? true, req.chat_template);
  const params = chatParams(req, { promptLen: ids.length, maxModelLen: engine.maxModelLen, vocabSize: engine.vocabSize });
  await respond(
    ctx,
    {
      id: `chatcmpl-${randomUUID().replaceAll('-', '')}`,
      object: 'chat.completion',
      chunkObject: 'chat.completion.chunk',
      model,
      jobs: [{ promptTokenIds: ids, params }],
      stream: req.stream ?? false,
      includeUsage: req.stream_options?.include_usage ?? false,
    },
    formatter(engine, req),
    res,
    signal,
  );
}
