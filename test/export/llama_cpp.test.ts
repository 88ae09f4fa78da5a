/**
 * ds export --format gguf, run by llama.cpp itself (node-llama-cpp, CPU): the file loads, its
 * tokenizer gives deepscale's ids, and greedy decoding gives the same tokens as `ds generate`
 * on the same file and as the training engine's own greedy decode on the checkpoint.
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import type { ControlledEvaluateInputItem, Llama, LlamaModel, Token } from 'node-llama-cpp';
import { InputError } from '../../src/errors.ts';
import { CharTokenizer } from '../../src/data/tokenizer/char.ts';
import { trainBpe } from '../../src/data/tokenizer/train.ts';
import { ByteLevelBpeTokenizer } from '../../src/data/tokenizer/bpe.ts';
import { exportCheckpoint, tokenizerToGgufKv } from '../../src/export/index.ts';
import { writeLlamaGguf } from '../../src/inference/loaders/gguf/export.ts';
import { loadGguf } from '../../src/inference/loaders/gguf/load.ts';
import { parseGguf } from '../../src/inference/loaders/gguf/reader.ts';
import { GgmlType } from '../../src/inference/loaders/gguf/constants.ts';
import { LLM } from '../../src/inference/engine/index.ts';
import { makeSamplingParams } from '../../src/inference/sampler/index.ts';
import { randomWeights, tinyConfig } from '../helpers/random_llama.ts';
import { exportModelConfig, tmp, trainedCheckpoint, type Checkpoint } from './fixture.ts';

const t = tmp('ds-export-cpp-');
let llama: Llama;
let ck: Checkpoint;
const opened: LlamaModel[] = [];

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
  ck = await trainedCheckpoint(join(t.dir, 'ckpt'), exportModelConfig({ tieWordEmbeddings: true }), { steps: 3 });
}, 120_000);
afterAll(async () => {
  for (const m of opened) await m.dispose();
  await llama?.dispose();
  t.cleanup();
});

async function open(path: string): Promise<LlamaModel> {
  const m = await llama.loadModel({ modelPath: path });
  opened.push(m);
  return m;
}

/** llama.cpp's greedy pick (temperature 0), one token per evaluation, up to eos or `steps`. */
async function cppGreedy(model: LlamaModel, prompt: number[], steps: number, eos: number): Promise<number[]> {
  const ctx = await model.createContext({ contextSize: 32, threads: 1, flashAttention: false });
  try {
    const seq = ctx.getSequence();
    const pick = { generateNext: { token: true, options: { temperature: 0 } } };
    let input: ControlledEvaluateInputItem[] = [...prompt.slice(0, -1).map((x) => x as Token), [prompt.at(-1)! as Token, pick]];
    const out: number[] = [];
    while (out.length < steps) {
      const next = (await seq.controlledEvaluate(input)).at(-1)?.next.token;
      if (next === undefined || next === null) throw new Error('llama.cpp picked no token');
      if (next === eos) break;
      out.push(next);
      input = [[next, pick]];
    }
    return out;
  } finally {
    await ctx.dispose();
  }
}

const PROMPTS = ['12+45=', '7+80=', '99+1=', 'abc>'];
const STEPS = 6;

/** Greedy continuations by deepscale's serving engine (what `ds generate` runs), eos dropped. */
function servingGreedy(model: string, prompts: readonly string[]): number[][] {
  const llm = new LLM({ model, kvCacheMemory: '4MiB', maxNumSeqs: 4 });
  try {
    const outs = llm.generate(prompts, makeSamplingParams({ max_tokens: STEPS, temperature: 0 }));
    return outs.map((o) => o.outputs[0]!.tokenIds.filter((x) => x !== ck.tokenizer.special.eos));
  } finally {
    llm.dispose();
  }
}

const dsGenerate = (model: string, prompt: string): { prompt_token_ids: number[]; token_ids: number[] } =>
  JSON.parse(execFileSync('node', ['bin/ds.js', 'generate', '--model', model, '--prompt', prompt, '--max-tokens', String(STEPS), '--temperature', '0', '--json'], { encoding: 'utf8' }));

describe('a GGUF export of a checkpoint with the character tokenizer', () => {
  const path = join(t.dir, 'model-f32.gguf');

  it('loads in llama.cpp, whose tokenizer gives deepscale\'s ids (bos added as deepscale does)', async () => {
    await exportCheckpoint({ checkpoint: ck.dir, out: path, format: 'gguf' });
    const model = await open(path);
    expect(model.tokens.bos).toBe(ck.tokenizer.special.bos);
    expect(model.tokens.eos).toBe(ck.tokenizer.special.eos);
    for (const text of ['12+45=57', '0123456789', 'zyx>xyz', '=+>', '']) {
      expect(model.tokenize(text), JSON.stringify(text)).toEqual(ck.tokenizer.encode(text));
      expect(model.tokenize(`<|bos|>${text}`, true), JSON.stringify(text)).toEqual(ck.tokenizer.encode(text, { addBos: true }));
      expect(model.detokenize(model.tokenize(text) as Token[])).toBe(text);
    }
  }, 120_000);

  it('greedy-decodes the same tokens in llama.cpp, in ds generate, and in the training engine', async () => {
    const model = await open(path);
    const eos = ck.tokenizer.special.eos!;
    const ids = PROMPTS.map((p) => ck.tokenizer.encode(p, { addBos: true }));
    const engine = ck.rt.engine.generate(ids, STEPS, eos);
    for (const [i, p] of PROMPTS.entries()) {
      expect(await cppGreedy(model, ids[i]!, STEPS, eos), p).toEqual(engine[i]);
    }
    // `ds generate` itself once (a process start costs seconds), its engine in-process for the rest.
    const ds = dsGenerate(path, PROMPTS[0]!);
    expect(ds.prompt_token_ids).toEqual(ids[0]);
    expect(ds.token_ids.filter((x) => x !== eos)).toEqual(engine[0]);
    expect(servingGreedy(path, PROMPTS)).toEqual(engine);
  }, 120_000);

  it('a Q8_0 export decodes in llama.cpp to the same tokens as deepscale\'s server engine on that file', async () => {
    // Both quantize activations to 8 bits per 32 before a Q8_0 dot; greedy picks may then differ
    // from the float32 checkpoint's, so the peer is the same file run by deepscale.
    const q8 = join(t.dir, 'model-q8_0.gguf');
    await exportCheckpoint({ checkpoint: ck.dir, out: q8, format: 'gguf', quantize: 'q8_0' });
    const model = await open(q8);
    const eos = ck.tokenizer.special.eos!;
    const cpp: number[][] = [];
    for (const p of PROMPTS) cpp.push(await cppGreedy(model, ck.tokenizer.encode(p, { addBos: true }), STEPS, eos));
    expect(cpp).toEqual(servingGreedy(q8, PROMPTS));
    expect(cpp.flat().length).toBeGreaterThan(0);
  }, 120_000);

  it.each(['fp16', 'bf16'] as const)('a --dtype %s export decodes in llama.cpp to the same tokens as deepscale on that file', async (dtype) => {
    const file = join(t.dir, `model-${dtype}.gguf`);
    await exportCheckpoint({ checkpoint: ck.dir, out: file, format: 'gguf', dtype });
    const types = new Map(parseGguf(readFileSync(file), file).tensors.map((x) => [x.name, x.type]));
    expect(types.get('blk.0.ffn_up.weight')).toBe(GgmlType[dtype === 'fp16' ? 'F16' : 'BF16']);
    expect(types.get('blk.0.attn_norm.weight')).toBe(GgmlType.F32);
    const model = await open(file);
    const eos = ck.tokenizer.special.eos!;
    const cpp: number[][] = [];
    for (const p of PROMPTS) cpp.push(await cppGreedy(model, ck.tokenizer.encode(p, { addBos: true }), STEPS, eos));
    expect(cpp).toEqual(servingGreedy(file, PROMPTS));
  }, 120_000);

  it('a multi-byte character in the alphabet is refused, saying why', () => {
    const tok = CharTokenizer.fromAlphabet('abé');
    expect(() => tokenizerToGgufKv(tok, tok.vocabSize)).toThrow(InputError);
    expect(() => tokenizerToGgufKv(tok, tok.vocabSize)).toThrow(/token 5 "é" \(U\+00E9\) is 2 UTF-8 bytes/);
  });
});

describe('a byte-level BPE tokenizer trained by deepscale, exported to GGUF', () => {
  it('tokenizes in llama.cpp to the same ids as in deepscale, and carries its chat template', async () => {
    const corpus = 'the quick brown fox jumps over the lazy dog\n'.repeat(20) + 'héllo wörld, 日本語 🙂 the theory of the thing\n'.repeat(10);
    const trained = trainBpe(corpus, { vocabSize: 320 });
    const chatTemplate = "{% for m in messages %}<|bos|>{{ m['role'] }}: {{ m['content'] }}<|eos|>{% endfor %}";
    const tok = new ByteLevelBpeTokenizer({ ...trained.parts, chatTemplate });
    const config = tinyConfig({ vocabSize: 324, numLayers: 1, bosTokenId: tok.special.bos, eosTokenId: tok.special.eos });
    const path = join(t.dir, 'bpe.gguf');
    writeLlamaGguf(path, { config, weights: randomWeights(config), tokenizer: tokenizerToGgufKv(tok, config.vocabSize), type: 'F32' });
    const model = await open(path);
    const back = loadGguf(path).tokenizer;
    expect(back.chatTemplate).toBe(chatTemplate);
    expect(model.fileInfo.metadata.tokenizer.chat_template).toBe(chatTemplate);
    for (const text of ['the quick brown fox', 'Hello, world! héllo 日本語 🙂', '  two  spaces\nand a newline', 'thethe theory', '']) {
      const ours = tok.encode(text);
      expect(model.tokenize(text), JSON.stringify(text)).toEqual(ours);
      expect(back.encode(text), JSON.stringify(text)).toEqual(ours);
    }
  }, 120_000);
});
