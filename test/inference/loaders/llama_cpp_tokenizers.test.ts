/**
 * GGUF tokenizers against llama.cpp's own tokenization (node-llama-cpp's model.tokenize), on text
 * with code, numbers, emoji, CJK and whitespace runs: byte-level BPE under each pre-tokenizer
 * llama.cpp names (tokenizer.ggml.pre), and SentencePiece. The BPE vocabulary is trained here
 * with the project's trainer, on text where digit runs and code merge, so the splits matter.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import type { Llama, LlamaModel } from 'node-llama-cpp';
import { FormatError } from '../../../src/errors.ts';
import { trainBpe } from '../../../src/data/tokenizer/train.ts';
import { addsBos } from '../../../src/data/tokenizer/types.ts';
import { writeLlamaGguf } from '../../../src/inference/loaders/gguf/export.ts';
import { loadGguf } from '../../../src/inference/loaders/gguf/load.ts';
import { gpt2TokenizerKv, llamaTokenizerKv } from '../../../src/inference/loaders/gguf/tokenizer_kv.ts';
import type { GgufKv } from '../../../src/inference/loaders/gguf/writer.ts';
import { randomWeights, tinyConfig } from '../../helpers/random_llama.ts';
import { tinySpmVocab } from '../../helpers/spm_vocab.ts';

const CORPUS = [
  'def fib(n):\n    return n if n < 2 else fib(n - 1) + fib(n - 2)\n',
  "In 2024 we counted 12345 apples, 678 pears and 1000000 grains; pi is 3.14159. I'm sure they'll say DON'T.\n",
  '日本語のテキストと中文文本 🙂🎉👍🏽 emoji!!\n\n\t\ttabs   and   spaces    here\r\n',
  'for (let i = 0; i < 10; i++) { console.log(`x=${i}`); }  // 2024-12-02\n',
].join('').repeat(20);

const TEXTS = [
  "Hello world! def f(x):\n\treturn x**2  # 12345 678 2024 3.14159\n\n   日本語 中文 🙂🎉👍🏽  I'M they'll \r\n  end   ",
  'for (let i = 0; i < 1000000; i++) {\n    console.log(`x=${i}`);\n}\n',
  '  \n\n\t 12 345 6789 ',
  '👍🏽👍🏽 中文文本テキスト!!',
  '',
];

let llama: Llama;
const dir = mkdtempSync(join(tmpdir(), 'ds-llamacpp-tok-'));
const models: LlamaModel[] = [];

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});
afterAll(async () => {
  for (const m of models) await m.dispose();
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

/** A one-layer model carrying `tokenizer`, written and opened by both sides. */
async function open(name: string, vocabSize: number, bos: number, eos: number, tokenizer: Map<string, GgufKv>) {
  const config = tinyConfig({ numLayers: 1, vocabSize, bosTokenId: bos, eosTokenId: eos });
  const path = join(dir, `${name}.gguf`);
  writeLlamaGguf(path, { config, weights: randomWeights(config), tokenizer, type: 'F32' });
  const model = await llama.loadModel({ modelPath: path });
  models.push(model);
  return { ours: loadGguf(path).tokenizer, cpp: model };
}

describe('byte-level BPE from GGUF, per tokenizer.ggml.pre, agrees with llama.cpp', () => {
  const bpe = trainBpe(CORPUS, { vocabSize: 1000 });
  const tokens: string[] = [];
  const types: number[] = [];
  for (const [t, id] of bpe.parts.vocab) (tokens[id] = t), (types[id] = 1);
  for (const a of bpe.parts.added) (tokens[a.id] = a.content), (types[a.id] = 3);
  const { bos, eos } = bpe.special;
  const cppTokens = new Map<string, number[]>();

  it.each(['gpt-2', 'llama-bpe', 'qwen2', 'smollm', 'default'])('%s', async (pre) => {
    const { ours, cpp } = await open(`bpe-${pre}`, tokens.length, bos!, eos!, gpt2TokenizerKv(tokens, types, bpe.parts.merges, { bos, eos, addBos: null }, pre)); // llama.cpp's default BOS rule
    for (const t of TEXTS) {
      const ids = ours.encode(t);
      expect(ids, JSON.stringify(t)).toEqual(cpp.tokenize(t));
      expect(ours.decode(ids)).toBe(t);
    }
    cppTokens.set(pre, TEXTS.flatMap((t) => [...cpp.tokenize(t), -1]));
    expect(addsBos(ours), 'adds BOS to a prompt').toBe(cpp.tokens.shouldPrependBosToken);
  });

  it.each([['qwen2', true], ['llama-bpe', false]] as const)('%s with tokenizer.ggml.add_bos_token %s adds BOS as llama.cpp does', async (pre, add) => {
    const kv = gpt2TokenizerKv(tokens, types, bpe.parts.merges, { bos, eos }, pre);
    kv.set('tokenizer.ggml.add_bos_token', { type: 'bool', value: add });
    const { ours, cpp } = await open(`bpe-${pre}-bos-${add}`, tokens.length, bos!, eos!, kv);
    expect(cpp.tokens.shouldPrependBosToken).toBe(add);
    expect(addsBos(ours)).toBe(add);
  });

  it('the pre-tokenizers split the text differently (so each one above was put to the test)', () => {
    const distinct = new Set([...cppTokens.values()].map((ids) => ids.join(',')));
    expect(cppTokens.size).toBe(5);
    expect(distinct.size).toBe(5);
  });
});

describe('SentencePiece from GGUF agrees with llama.cpp', () => {
  it('on code, numbers, emoji, CJK and whitespace runs (byte fallback for what the vocabulary lacks)', async () => {
    const v = tinySpmVocab();
    const { ours, cpp } = await open('spm', v.tokens.length, 1, 2, llamaTokenizerKv(v.tokens, v.scores, v.types, { bos: 1, eos: 2, unk: 0, addBos: true, addSpacePrefix: true }));
    for (const t of [...TEXTS, 'the hello theory of the world']) {
      const ids = ours.encode(t, { addBos: false });
      expect(ids, JSON.stringify(t)).toEqual(cpp.tokenize(t));
      expect(ours.decode(ids)).toBe(t);
    }
    expect(addsBos(ours)).toBe(cpp.tokens.shouldPrependBosToken);
  });
});

describe('tokenizer.ggml.pre that llama.cpp does not name here', () => {
  it('is refused at load, naming it', () => {
    const config = tinyConfig({ numLayers: 1, vocabSize: 300 });
    const path = join(dir, 'bad-pre.gguf');
    const tokens = Array.from({ length: 300 }, (_, i) => `t${i}`);
    writeLlamaGguf(path, { config, weights: randomWeights(config), tokenizer: gpt2TokenizerKv(tokens, tokens.map(() => 1), [], { bos: null, eos: null }, 'tekken'), type: 'F32' });
    expect(() => loadGguf(path)).toThrow(FormatError);
    expect(() => loadGguf(path)).toThrow(/tokenizer\.ggml\.pre "tekken" is not supported/);
  });
});
