/** POST /tokenize and /detokenize, in vLLM's shapes. */
import type { ServerResponse } from 'node:http';
import { InvalidRequestError } from '../../errors.ts';
import { addsBos } from '../../data/tokenizer/types.ts';
import { chatPromptIds } from './chat.ts';
import type { ModelContext } from './completions.ts';
import { sendJson } from './http.ts';
import { detokenizeRequest, parseRequest, tokenizeRequest } from './schemas.ts';

/** {prompt, add_special_tokens} or {messages, add_generation_prompt, add_special_tokens} → {count, max_model_len, tokens}. */
export function handleTokenize(ctx: ModelContext, body: unknown, res: ServerResponse): void {
  const req = parseRequest(tokenizeRequest, body);
  ctx.resolveModel(req.model);
  const { engine } = ctx;
  const tokens =
    'prompt' in req
      ? engine.tokenizer.encode(req.prompt, { addBos: req.add_special_tokens ?? addsBos(engine.tokenizer), allowSpecial: true })
      : chatPromptIds(engine, req.messages, req.add_generation_prompt ?? true, null, req.add_special_tokens ?? false);
  sendJson(res, 200, { count: tokens.length, max_model_len: engine.maxModelLen, tokens });
}

/** {tokens} → {prompt}. */
export function handleDetokenize(ctx: ModelContext, body: unknown, res: ServerResponse): void {
  const req = parseRequest(detokenizeRequest, body);
  ctx.resolveModel(req.model);
  const { engine } = ctx;
  const bad = req.tokens.findIndex((t) => t < 0 || t >= engine.vocabSize);
  if (bad >= 0) throw new InvalidRequestError(`tokens.${bad} is ${req.tokens[bad]}, outside the vocabulary of ${engine.vocabSize}`, `tokens.${bad}`);
  sendJson(res, 200, { prompt: engine.tokenizer.decode(req.tokens) });
}
