/**
 * GGUF files written by writeLlamaGguf, run by llama.cpp itself (node-llama-cpp, CPU), against
 * the float64 reference forward on what loadGguf reads back. llama.cpp runs with an F32 KV cache
 * and no flash attention (its CPU flash attention rounds Q to f16), so F32 logits agree to ~1e-6.
 * All llama.cpp work lives in this one file: the library is loaded once.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import type { ControlledEvaluateInputItem, Llama, LlamaModel, Token } from 'node-llama-cpp';
import { phi3, type Architecture } from '../../../src/inference/loaders/arch/index.ts';
import { writeLlamaGguf } from '../../../src/inference/loaders/gguf/export.ts';
import { gpt2TokenizerKv, llamaTokenizerKv } from '../../../src/inference/loaders/gguf/tokenizer_kv.ts';
import { loadGguf } from '../../../src/inference/loaders/gguf/load.ts';
import type { GgufWriteType } from '../../../src/inference/loaders/gguf/writer.ts';
import { isPlainLlama, type ModelConfig } from '../../../src/models/types.ts';
import { ropeDivisors } from '../../../src/models/rope_scaling.ts';
import { randomWeights, tinyBpeVocab, tinyConfig } from '../../helpers/random_llama.ts';
import { referenceForward, referenceGreedy } from '../../helpers/reference_llama.ts';
import { tinySpmVocab } from '../../helpers/spm_vocab.ts';

let llama: Llama;
const dir = mkdtempSync(join(tmpdir(), 'ds-llamacpp-'));
const models = new Map<string, LlamaModel>();

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});
afterAll(async () => {
  for (const m of models.values()) await m.dispose();
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

function writeBpeModel(name: string, config: ModelConfig, type: GgufWriteType, arch?: Architecture): string {
  const v = tinyBpeVocab(config.vocabSize);
  const path = join(dir, `${name}.gguf`);
  const tokenizer = gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 });
  writeLlamaGguf(path, { config, weights: randomWeights(config, name.length), tokenizer, type, ...(arch ? { arch } : {}) });
  return path;
}

async function open(path: string): Promise<LlamaModel> {
  const cached = models.get(path);
  if (cached) return cached;
  const model = await llama.loadModel({ modelPath: path });
  models.set(path, model);
  return model;
}

async function cppLogits(model: LlamaModel, ids: number[]): Promise<Map<Token, number>[]> {
  const ctx = await model.createContext({
    contextSize: 64, threads: 1, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32',
  });
  try {
    const out = await ctx.getSequence().controlledEvaluate(ids.map((t) => [t as Token, { generateNext: { logits: true } }]));
    return out.map((o, i) => {
      const l = o?.next.logits;
      if (!l) throw new Error(`llama.cpp returned no logits at position ${i}`);
      return l;
    });
  } finally {
    await ctx.dispose();
  }
}

/** llama.cpp's own greedy pick (temperature 0 sampler), one token per evaluation. */
async function cppGreedy(model: LlamaModel, prompt: number[], steps: number): Promise<number[]> {
  const ctx = await model.createContext({ contextSize: 64, threads: 1, flashAttention: false });
  try {
    const seq = ctx.getSequence();
    const pick = { generateNext: { token: true, options: { temperature: 0 } } };
    let input: ControlledEvaluateInputItem[] = [...prompt.slice(0, -1).map((t) => t as Token), [prompt.at(-1)! as Token, pick]];
    const out: number[] = [];
    while (out.length < steps) {
      const res = await seq.controlledEvaluate(input);
      const next = res.at(-1)?.next.token;
      if (next === undefined || next === null) throw new Error('llama.cpp picked no token');
      out.push(next);
      input = [[next, pick]];
    }
    return out;
  } finally {
    await ctx.dispose();
  }
}

function maxDiff(ref: Float64Array[], cpp: Map<Token, number>[]): number {
  let d = 0;
  cpp.forEach((m, pos) => {
    expect(m.size).toBe(ref[pos]!.length);
    for (const [tok, v] of m) d = Math.max(d, Math.abs(v - ref[pos]![tok]!));
  });
  return d;
}

const PROMPT = [256, 104, 101, 108, 108, 111, 32, 119, 111, 114];

const LLAMA3_ROPE = { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8 };

describe.each([
  { name: 'f32-gqa', over: {}, type: 'F32' as const, tol: 1e-3, rope: 'adjacent' },
  { name: 'f32-mha-tied', over: { numKvHeads: 4, tieWordEmbeddings: true }, type: 'F32' as const, tol: 1e-3, rope: 'adjacent' },
  { name: 'f16-gqa', over: { numHeads: 8, numKvHeads: 2, headDim: 8 }, type: 'F16' as const, tol: 2e-2, rope: 'adjacent' },
  // llama.cpp also rounds activations to Q8_0 before a Q8_0 matmul, so agreement is looser.
  { name: 'q8_0-gqa', over: {}, type: 'Q8_0' as const, tol: 0.1, rope: 'adjacent' },
  // Architectures: qwen2 (q/k/v biases), qwen3 (q/k norms, head dim ≠ D/H), Llama 3.1 rope scaling
  // (written as the rope_freqs tensor; a short original context so that most pairs are scaled), linear scaling.
  { name: 'qwen2', over: { attentionBias: true }, type: 'F32' as const, tol: 1e-3, rope: 'half' },
  { name: 'qwen3', over: { qkNorm: true, headDim: 32 }, type: 'F32' as const, tol: 1e-3, rope: 'half' },
  { name: 'llama3-rope', over: { ropeScaling: LLAMA3_ROPE }, type: 'F32' as const, tol: 1e-3, rope: 'adjacent' },
  { name: 'linear-rope', over: { ropeScaling: { type: 'linear' as const, factor: 4 } }, type: 'F32' as const, tol: 1e-3, rope: 'adjacent' },
  // phi3: q/k/v and gate/up fused in the file (written fused, split at load), rotate-half rope
  { name: 'phi3', over: {}, type: 'F32' as const, tol: 1e-3, rope: 'half', arch: phi3 },
  { name: 'phi3-q8_0', over: {}, type: 'Q8_0' as const, tol: 0.1, rope: 'half', arch: phi3 },
])('llama.cpp vs reference on $name', ({ name, over, type, tol, rope, arch }) => {
  const config = tinyConfig(over);
  const path = writeBpeModel(name, config, type, arch);
  const loaded = loadGguf(path);

  it(`reads the config back with ${rope} rope`, () => {
    // Llama 3.1 scaling comes back as the rope_freqs tensor's divisors (float32)
    const scaling = config.ropeScaling?.type === 'llama3' ? { ropeScaling: { type: 'freqs', divisors: Array.from(Float32Array.from(ropeDivisors(config))) } } : {};
    expect(loaded.config).toEqual({ ...config, ropeStyle: rope, rmsNormEps: Math.fround(config.rmsNormEps), ...scaling });
  });

  it('gives llama.cpp logits at every position', async () => {
    const ref = referenceForward(loaded, PROMPT);
    const d = maxDiff(ref, await cppLogits(await open(path), PROMPT));
    expect(d).toBeLessThan(tol);
  });

  it.runIf(!isPlainLlama(config))('differs from llama.cpp by far more than the tolerance when the extras are dropped', async () => {
    const plain = { ...loaded.config, attentionBias: false, qkNorm: false, ropeScaling: null };
    const d = maxDiff(referenceForward({ config: plain, weights: loaded.weights }, PROMPT), await cppLogits(await open(path), PROMPT));
    expect(d).toBeGreaterThan(100 * tol);
  });

  it('HF weights with rotate-half give the same logits as the permuted GGUF weights with adjacent rope', () => {
    const hfConfig = { ...config, rmsNormEps: Math.fround(config.rmsNormEps) };
    const refHf = referenceForward({ config: hfConfig, weights: randomWeights(config, name.length) }, PROMPT);
    const refGguf = referenceForward(loaded, PROMPT);
    // F16 storage rounds the weights, so compare at the storage precision (rope divisors are stored as f32).
    const bound = type === 'F32' ? (config.ropeScaling ? 1e-5 : 1e-9) : type === 'F16' ? tol : 0.5;
    refHf.forEach((row, i) => row.forEach((v, j) => expect(Math.abs(v - refGguf[i]![j]!)).toBeLessThan(bound)));
  });

  it('decodes greedily to the same tokens as llama.cpp', async () => {
    const model = await open(path);
    expect(await cppGreedy(model, PROMPT, 8)).toEqual(referenceGreedy(loaded, PROMPT, 8));
  });
});

describe('tokenizers read from GGUF agree with llama.cpp', () => {
  const texts = ['hello world', 'Hello, world! héllo 日本語 🙂', '  two  spaces\nand a newline', 'the theory', 'x', ''];

  it('gpt2 kind (byte-level BPE)', async () => {
    const path = writeBpeModel('tok-gpt2', tinyConfig({ numLayers: 1 }), 'F32');
    const model = await open(path);
    const tok = loadGguf(path).tokenizer;
    for (const t of texts) expect(tok.encode(t), JSON.stringify(t)).toEqual(model.tokenize(t));
  });

  it('llama kind (SentencePiece BPE by score, byte fallback)', async () => {
    const v = tinySpmVocab();
    const config = tinyConfig({ numLayers: 1, vocabSize: v.tokens.length, bosTokenId: 1, eosTokenId: 2 });
    const path = join(dir, 'tok-spm.gguf');
    const tokenizer = llamaTokenizerKv(v.tokens, v.scores, v.types, { bos: 1, eos: 2, unk: 0, addBos: true, addSpacePrefix: true });
    writeLlamaGguf(path, { config, weights: randomWeights(config), tokenizer, type: 'F32' });
    const model = await open(path);
    const tok = loadGguf(path).tokenizer;
    for (const t of [...texts, 'the hello theory of the world', 'otherworldly thehello']) {
      const ours = tok.encode(t, { addBos: false });
      expect(ours, JSON.stringify(t)).toEqual(model.tokenize(t));
      expect(tok.decode(ours)).toBe(t);
    }
  });
});
