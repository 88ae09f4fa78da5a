/**
 * Quantized GGUFs decoded by llama.cpp itself (node-llama-cpp, CPU) and by deepscale's model
 * runner on the stored blocks: the same greedy tokens, and llama.cpp's logits close to the float64
 * reference of the dequantized weights (both engines round activations to 8 bits for these types,
 * each in its own way). The files come from `ds quantize` (deepscale's quantizers) and from
 * llama.cpp's own quantizer (scripts/llama_quantize.c, built here against node-llama-cpp's libllama).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { getLlama, LlamaLogLevel } from 'node-llama-cpp';
import type { ControlledEvaluateInputItem, Llama, LlamaModel, Token } from 'node-llama-cpp';
import { writeLlamaGguf } from '../../../src/inference/loaders/gguf/export.ts';
import { loadGguf } from '../../../src/inference/loaders/gguf/load.ts';
import { quantizeGgufFile, type QuantPreset } from '../../../src/inference/loaders/gguf/quantize.ts';
import { gpt2TokenizerKv } from '../../../src/inference/loaders/gguf/tokenizer_kv.ts';
import type { LoadedModel } from '../../../src/inference/loaders/types.ts';
import { ModelRunner } from '../../../src/inference/runner/index.ts';
import { randomWeights, tinyBpeVocab, tinyConfig } from '../../helpers/random_llama.ts';
import { argmax, referenceForward } from '../../helpers/reference_llama.ts';

let llama: Llama;
const dir = mkdtempSync(join(tmpdir(), 'ds-llamacpp-q-'));
const models: LlamaModel[] = [];

beforeAll(async () => {
  llama = await getLlama({ gpu: false, build: 'never', logLevel: LlamaLogLevel.error });
});
afterAll(async () => {
  for (const m of models) await m.dispose();
  await llama?.dispose();
  rmSync(dir, { recursive: true, force: true });
});

// rows of 256 (k-quant blocks); a few heads so that attention mixes
const config = tinyConfig({ hiddenSize: 256, intermediateSize: 512, numHeads: 4, numKvHeads: 2, headDim: 64, numLayers: 2, maxPositionEmbeddings: 64 });
const PROMPT = [256, 104, 101, 108, 108, 111, 32, 119, 111, 114];
const STEPS = 12;

const f32 = join(dir, 'f32.gguf');
{
  const v = tinyBpeVocab(config.vocabSize);
  // weights scaled up so that the next-token distribution is peaked (greedy picks are not near-ties)
  const weights = randomWeights(config, 21);
  for (const [name, t] of weights) if (name.includes('embed') || name.includes('lm_head')) t.data.forEach((x, i) => (t.data[i] = 3 * x));
  writeLlamaGguf(f32, { config, weights, tokenizer: gpt2TokenizerKv(v.tokens, v.types, v.merges, { bos: 256, eos: 257 }), type: 'F32' });
}

/** deepscale's greedy decode on the model runner (the stored-format kernels). */
function runnerGreedy(m: LoadedModel, prompt: number[], steps: number): number[] {
  const runner = new ModelRunner(m, { numBlocks: 4, blockSize: 16 });
  const ids = [...prompt];
  const out: number[] = [];
  let start = 0;
  while (out.length < steps) {
    const n = ids.length - start;
    const logits = runner.execute({
      tokenIds: Int32Array.from(ids.slice(start)), positions: Int32Array.from({ length: n }, (_, i) => start + i), slotMapping: Int32Array.from({ length: n }, (_, i) => start + i),
      seqs: [{ queryStart: 0, queryLen: n, contextLen: ids.length, blockTable: Int32Array.from([0, 1, 2, 3]) }], sampleRows: Int32Array.from([n - 1]),
    });
    const next = argmax(logits);
    out.push(next);
    start = ids.length;
    ids.push(next);
  }
  runner.dispose();
  return out;
}

async function cppRun(path: string, prompt: number[], steps: number): Promise<{ tokens: number[]; logits: Map<Token, number>[] }> {
  const model = await llama.loadModel({ modelPath: path });
  models.push(model);
  const ctx = await model.createContext({ contextSize: 64, threads: 1, flashAttention: false, experimentalKvCacheKeyType: 'F32', experimentalKvCacheValueType: 'F32' });
  try {
    const seq = ctx.getSequence();
    const pick = { generateNext: { token: true, logits: true, options: { temperature: 0 } } } as const;
    const res0 = await seq.controlledEvaluate(prompt.map((t) => [t as Token, { generateNext: { logits: true } }] as ControlledEvaluateInputItem));
    const logits = res0.map((o) => o!.next.logits!);
    await seq.eraseContextTokenRanges([{ start: 0, end: prompt.length }]);
    let input: ControlledEvaluateInputItem[] = [...prompt.slice(0, -1).map((t) => t as Token), [prompt.at(-1)! as Token, pick]];
    const tokens: number[] = [];
    while (tokens.length < steps) {
      const next = (await seq.controlledEvaluate(input)).at(-1)?.next.token;
      if (next === undefined || next === null) throw new Error('llama.cpp picked no token');
      tokens.push(next);
      input = [[next, pick]];
    }
    return { tokens, logits };
  } finally {
    await ctx.dispose();
  }
}

/** deepscale's greedy tokens match llama.cpp's on `path` (up to a near-tie), and llama.cpp's logits are those of the dequantized weights. */
async function expectSameDecode(path: string, tol: number): Promise<void> {
  const m = loadGguf(path);
  const cpp = await cppRun(path, PROMPT, STEPS);
  const ours = runnerGreedy(m, PROMPT, STEPS);
  // float64 logits of the dequantized weights along llama.cpp's tokens: step i is row PROMPT.length - 1 + i
  const ref = referenceForward(m, [...PROMPT, ...cpp.tokens]);
  let worst = 0;
  let spread = 0;
  cpp.logits.forEach((row, p) => {
    for (const [tok, v] of row) worst = Math.max(worst, Math.abs(v - ref[p]![tok]!));
    spread = Math.max(spread, Math.max(...ref[p]!) - Math.min(...ref[p]!));
  });
  expect(worst / spread).toBeLessThan(tol);
  // Same tokens, up to a step where the exact logits' top two are closer than both engines' 8-bit
  // activation rounding can resolve (~1% of the spread); past such a near-tie the sequences may part.
  const agree = ours.findIndex((t, i) => t !== cpp.tokens[i]);
  if (agree >= 0) {
    const row = [...ref[PROMPT.length - 1 + agree]!].sort((a, b) => b - a);
    expect(row[0]! - row[1]!, `tokens part at step ${agree}: ${ours} vs ${cpp.tokens}`).toBeLessThan(0.01 * spread);
    expect(agree).toBeGreaterThanOrEqual(3);
  }
}

/** scripts/llama_quantize.c built against node-llama-cpp's libllama, or null (no clang, no library). */
function buildLlamaQuantize(): string | null {
  try {
    const entry = createRequire(import.meta.url).resolve('@node-llama-cpp/linux-x64'); // …/dist/index.js
    const lib = join(entry, '..', '..', 'bins', 'linux-x64');
    const so = readdirSync(lib).find((f) => /^libllama\.v[\d.]+\.so$/.test(f));
    if (!so) return null;
    const exe = join(dir, 'llama_quantize');
    execFileSync('clang', ['-O1', '-o', exe, join(import.meta.dirname, '../../../scripts/llama_quantize.c'), `-L${lib}`, `-l:${so}`, `-Wl,-rpath,${lib}`], { stdio: 'pipe' });
    return existsSync(exe) ? exe : null;
  } catch {
    return null;
  }
}

describe.each(['q8_0', 'q4_0', 'q5_1', 'q2_k', 'q3_k_m', 'q4_k_m', 'q5_k_m', 'q6_k', 'f16'] as const)('a GGUF that ds quantize made (%s)', (preset: QuantPreset) => {
  it('llama.cpp and deepscale decode it to the same tokens, and llama.cpp gives its dequantized logits', async () => {
    const path = join(dir, `${preset}.gguf`);
    const r = quantizeGgufFile(f32, path, preset);
    expect(r.outBytes).toBeLessThan(r.inBytes);
    await expectSameDecode(path, preset === 'f16' ? 1e-3 : 0.03);
  });
});

const quantizer = buildLlamaQuantize();
describe.skipIf(quantizer === null)('a GGUF that llama.cpp\'s own quantizer made (clang and node-llama-cpp\'s libllama needed)', () => {
  const quantize = (ftype: number, name: string) => {
    const path = join(dir, `cpp-${name}.gguf`);
    execFileSync(quantizer!, [f32, path, String(ftype)], { stdio: 'pipe' });
    return path;
  };
  it.each([[7, 'Q8_0'], [2, 'Q4_0'], [3, 'Q4_1'], [8, 'Q5_0'], [9, 'Q5_1'], [10, 'Q2_K'], [12, 'Q3_K_M'], [15, 'Q4_K_M'], [17, 'Q5_K_M'], [18, 'Q6_K']] as const)('llama_ftype %i (%s): deepscale decodes it to llama.cpp\'s tokens', async (ftype, name) => {
    await expectSameDecode(quantize(ftype, name), 0.03);
  });

  it('an IQ-quant file is refused at load, naming the tensor type', () => {
    // llama_ftype 25: IQ4_NL (no importance matrix needed); deepscale reads no IQ type
    expect(() => loadGguf(quantize(25, 'IQ4_NL'))).toThrow(/ggml type 20 \(IQ4_NL\) is not supported/);
  });
});
