/**
 * Chat messages → prompt text through the model's Jinja chat template (tokenizer.json's
 * tokenizer_config / GGUF tokenizer.chat_template), rendered with @huggingface/jinja.
 * A model with no template gets DEFAULT_CHAT_TEMPLATE, ChatML:
 *   <|im_start|>{role}\n{content}<|im_end|>\n …  then `<|im_start|>assistant\n` when
 *   add_generation_prompt (the default) asks the model to answer.
 */
import { Template } from '@huggingface/jinja';
import { InvalidRequestError } from '../../errors.ts';
import type { Tokenizer } from '../../data/tokenizer/types.ts';
import type { ChatMessage } from './schemas.ts';

export const DEFAULT_CHAT_TEMPLATE =
  "{% for message in messages %}{{ '<|im_start|>' + message['role'] + '\\n' + message['content'] + '<|im_end|>' + '\\n' }}{% endfor %}" +
  "{% if add_generation_prompt %}{{ '<|im_start|>assistant\\n' }}{% endif %}";

const compiled = new Map<string, Template>();

function compile(source: string): Template {
  let t = compiled.get(source);
  if (!t) {
    try {
      t = new Template(source);
    } catch (err) {
      throw new InvalidRequestError(`the chat template does not parse: ${(err as Error).message}`, 'chat_template');
    }
    compiled.set(source, t);
  }
  return t;
}

/** Content parts (`[{type: 'text', text}]`) join into one string, as vLLM does for text-only models. */
function flatten(messages: readonly ChatMessage[]): { role: string; content: string; name?: string }[] {
  return messages.map((m) => ({
    role: m.role,
    content: typeof m.content === 'string' ? m.content : (m.content ?? []).map((p) => p.text).join('\n'),
    ...(m.name ? { name: m.name } : {}),
  }));
}

export interface RenderOptions {
  readonly addGenerationPrompt?: boolean;
  /** A request's own template (vLLM's `chat_template` field) instead of the model's. */
  readonly template?: string | null;
}

export function renderChat(tokenizer: Tokenizer, messages: readonly ChatMessage[], opts: RenderOptions = {}): string {
  const source = opts.template ?? tokenizer.chatTemplate ?? DEFAULT_CHAT_TEMPLATE;
  const tokenText = (id: number | null) => (id === null ? '' : (tokenizer.idToToken(id) ?? ''));
  try {
    return compile(source).render({
      messages: flatten(messages),
      add_generation_prompt: opts.addGenerationPrompt ?? true,
      bos_token: tokenText(tokenizer.special.bos),
      eos_token: tokenText(tokenizer.special.eos),
    });
  } catch (err) {
    // Templates reject what they cannot format with raise_exception (built into the renderer).
    throw new InvalidRequestError(`the chat template failed on these messages: ${(err as Error).message}`, 'messages');
  }
}
