/**
 * The chat templates of Llama 3, Qwen2.5 and Mistral (test/fixtures/chat_templates, as their
 * models ship them), read from a GGUF's tokenizer.chat_template and rendered as llama.cpp's
 * server renders them (messages, add_generation_prompt, bos_token, eos_token, raise_exception).
 * The prompt's token ids are checked against llama.cpp's tokenization of the rendered text
 * with special tokens parsed: one BOS, from the template.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLlama, LlamaLogLevel, type Llama, type LlamaModel } from 'node-llama-cpp';
import { InvalidRequestError } from '../../../src/errors.ts';
import { trainBpe } from '../../../src/data/tokenizer/train.ts';
import type { Tokenizer } from '../../../src/data/tokenizer/types.ts';
import { writeLlamaGguf } from '../../../src/inference/loaders/gguf/export.ts';
import { loadGguf } from '../../../src/inference/loaders/gguf/load.ts';
import { gpt2TokenizerKv, llamaTokenizerKv } from '../../../src/inference/loaders/gguf/tokenizer_kv.ts';
import type { GgufKv } from '../../../src/inference/loaders/gguf/writer.ts';
import { chatPromptIds } from '../../../src/inference/server/chat.ts';
import { renderChat } from '../../../src/inference/server/chat_template.ts';
import { randomWeights, tinyConfig } from '../../helpers/random_llama.ts';
import { tinySpmVocab } from '../../helpers/spm_vocab.ts';

const fixture = (name: string) => readFileSync(join(import.meta.dirname, '../../fixtures/chat_templates', name), 'utf8');
const dir = mkdtempSync(join(tmpdir(), 'ds-chat-tmpl-'));
let llama: Llama;
const models: LlamaModel[] = [];
beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});
afterAll(async () => {
  for (const m of models) await m.dispose();
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A byte-level BPE GGUF whose control tokens are `specials` (bos first, eos second). */
function bpeKv(specials: string[], template: string, pre: string): { kv: Map<string, GgufKv>; n: number; bos: number; eos: number } {
  const bpe = trainBpe('you are a helpful assistant. hello, who are you? I am fine.\n'.repeat(30), { vocabSize: 400, specialTokens: [] });
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [t, id] of bpe.parts.vocab) (tokens[id] = t), (types[id] = 1);
  const first = tokens.length;
  for (const s of specials) tokens.push(s), types.push(3);
  return { kv: gpt2TokenizerKv(tokens, types, bpe.parts.merges, { bos: first, eos: first + 1, chatTemplate: template }, pre), n: tokens.length, bos: first, eos: first + 1 };
}

async function open(name: string, t: { kv: Map<string, GgufKv>; n: number; bos: number; eos: number }): Promise<{ tok: Tokenizer; cpp: LlamaModel }> {
  const config = tinyConfig({ numLayers: 1, vocabSize: t.n, bosTokenId: t.bos, eosTokenId: t.eos });
  const path = join(dir, `${name}.gguf`);
  writeLlamaGguf(path, { config, weights: randomWeights(config), tokenizer: t.kv, type: 'F32' });
  const cpp = await llama.loadModel({ modelPath: path });
  models.push(cpp);
  return { tok: loadGguf(path).tokenizer, cpp };
}

const chat = [
  { role: 'system' as const, content: 'You are a helpful assistant.' },
  { role: 'user' as const, content: '  hello, who are you?\n' },
];

describe('chat templates from GGUF', () => {
  it('Llama 3: bos once, headers, content trimmed, generation prompt', async () => {
    const { tok, cpp } = await open('llama3', bpeKv(['<|begin_of_text|>', '<|eot_id|>', '<|start_header_id|>', '<|end_header_id|>'], fixture('llama3.jinja'), 'llama-bpe'));
    const text = renderChat(tok, chat);
    expect(text).toBe(
      '<|begin_of_text|><|start_header_id|>system<|end_header_id|>\n\nYou are a helpful assistant.<|eot_id|>' +
        '<|start_header_id|>user<|end_header_id|>\n\nhello, who are you?<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n',
    );
    const ids = chatPromptIds({ tokenizer: tok }, chat, true);
    expect(ids.filter((id) => id === tok.special.bos)).toEqual([tok.special.bos]);
    expect(ids).toEqual(cpp.tokenize(text, true));
  });

  it('Qwen2.5: the default system prompt when none is given, ChatML turns', async () => {
    const { tok, cpp } = await open('qwen2.5', bpeKv(['<|endoftext|>', '<|im_end|>', '<|im_start|>'], fixture('qwen2_5.jinja'), 'qwen2'));
    const noSystem = renderChat(tok, chat.slice(1));
    expect(noSystem).toBe(
      '<|im_start|>system\nYou are Qwen, created by Alibaba Cloud. You are a helpful assistant.<|im_end|>\n' +
        '<|im_start|>user\n  hello, who are you?\n<|im_end|>\n<|im_start|>assistant\n',
    );
    const text = renderChat(tok, [...chat, { role: 'assistant', content: 'I am fine.' }], { addGenerationPrompt: false });
    expect(text).toBe('<|im_start|>system\nYou are a helpful assistant.<|im_end|>\n<|im_start|>user\n  hello, who are you?\n<|im_end|>\n<|im_start|>assistant\nI am fine.<|im_end|>\n');
    expect(chatPromptIds({ tokenizer: tok }, chat.slice(1), true)).toEqual(cpp.tokenize(noSystem, true));
  });

  it('Mistral: [INST] turns, eos after answers, and its raise_exception as a 400', async () => {
    const v = tinySpmVocab();
    const kv = llamaTokenizerKv(v.tokens, v.scores, v.types, { bos: 1, eos: 2, unk: 0, addBos: true, addSpacePrefix: true, chatTemplate: fixture('mistral.jinja') });
    const { tok, cpp } = await open('mistral', { kv, n: v.tokens.length, bos: 1, eos: 2 });
    const turns = [
      { role: 'user' as const, content: 'hello' },
      { role: 'assistant' as const, content: 'the world' },
      { role: 'user' as const, content: 'and other' },
    ];
    const text = renderChat(tok, turns);
    expect(text).toBe('<s>[INST] hello [/INST]the world</s>[INST] and other [/INST]');
    const ids = chatPromptIds({ tokenizer: tok }, turns, true);
    expect(ids[0]).toBe(1);
    expect(ids.filter((id) => id === 1)).toHaveLength(1);
    expect(ids).toEqual(cpp.tokenize(text, true));
    expect(() => renderChat(tok, chat)).toThrow(InvalidRequestError);
    expect(() => renderChat(tok, [turns[0]!, turns[0]!])).toThrow(/Conversation roles must alternate/);
  });
});
