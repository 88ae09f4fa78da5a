/**
 * The WebGPU runner passes the wasm runner's contract: the same logits however a prompt is cut
 * into steps, for ragged batches through scattered block tables, with GQA, both rope styles,
 * tied embeddings, qwen2's biases, qwen3's q/k norms and Llama 3.1 rope scaling; swaps and copy-on-write copies of KV blocks.
 *
 * Tolerance, float32 weights: |webgpu − wasm| < 1e-4 and |webgpu − float64 reference| < 1e-4
 * (both are float32 forwards; they differ in summation order only).
 */
import { afterEach, describe, expect, it } from 'vitest';
import type { Tokenizer } from '../../../src/data/tokenizer/types.ts';
import type { LoadedModel } from '../../../src/inference/loaders/types.ts';
import { ModelRunner, type RunnerBatch } from '../../../src/inference/runner/index.ts';
import { WebGpuRunner } from '../../../src/inference/runner/webgpu/webgpu_runner.ts';
import type { ModelConfig } from '../../../src/models/types.ts';
import { randomWeights, tinyConfig } from '../../helpers/random_llama.ts';
import { referenceForward } from '../../helpers/reference_llama.ts';
import { gpuSkipReason, gpuTitle } from './gpu_available.ts';

const B = 4; // block size: small, so short prompts cross blocks

function model(over: Partial<ModelConfig>, seed: number): LoadedModel {
  const config = tinyConfig({ numLayers: 2, maxPositionEmbeddings: 64, ...over });
  return { config, weights: randomWeights(config, seed), tokenizer: {} as Tokenizer, source: 'random' };
}

interface Req {
  ids: number[];
  table: number[]; // block ids, scattered on purpose
}

/** One step: for each request, tokens [start, start+len) with its block table; its last row samples. */
export function batchOf(parts: { req: Req; start: number; len: number }[]): RunnerBatch {
  const tokenIds: number[] = [];
  const positions: number[] = [];
  const slots: number[] = [];
  const seqs = [];
  const sampleRows: number[] = [];
  for (const { req, start, len } of parts) {
    seqs.push({ queryStart: tokenIds.length, queryLen: len, contextLen: start + len, blockTable: Int32Array.from(req.table) });
    for (let p = start; p < start + len; p++) {
      tokenIds.push(req.ids[p]!);
      positions.push(p);
      slots.push(req.table[Math.floor(p / B)]! * B + (p % B));
    }
    sampleRows.push(tokenIds.length - 1);
  }
  return { tokenIds: Int32Array.from(tokenIds), positions: Int32Array.from(positions), slotMapping: Int32Array.from(slots), seqs, sampleRows: Int32Array.from(sampleRows) };
}

function worstDiff(got: Float32Array, want: ArrayLike<number>): number {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  return worst;
}

const prompt = [256, 104, 101, 108, 108, 111, 32, 119, 111, 114, 108];
const other = [256, 1, 2, 3, 4, 5, 6];
/** Runners of the running test, disposed when it ends (a live device thread would slow the next test). */
const runners: { dispose(): void }[] = [];
afterEach(() => runners.splice(0).forEach((r) => r.dispose()));

async function pair(m: LoadedModel, numHostBlocks = 0): Promise<{ gpu: WebGpuRunner; cpu: ModelRunner }> {
  const gpu = await WebGpuRunner.create(m, { numBlocks: 12, blockSize: B, numHostBlocks, allowSoftware: true, maxNumBatchedTokens: 32 });
  const cpu = new ModelRunner(m, { numBlocks: 12, blockSize: B, numHostBlocks });
  runners.push(gpu, cpu);
  return { gpu, cpu };
}

describe.skipIf(gpuSkipReason !== null).each([
  ['half rope, GQA 4/2', { ropeStyle: 'half' as const }],
  ['adjacent rope, GQA 4/1, llama 3.1 rope scaling', { ropeStyle: 'adjacent' as const, numKvHeads: 1, ropeScaling: { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8 } }],
  ['MHA, tied embeddings, qwen2 q/k/v biases', { ropeStyle: 'half' as const, numKvHeads: 4, tieWordEmbeddings: true, attentionBias: true }],
  ['qwen3: q/k norms, head dim 32 ≠ D/H', { qkNorm: true, headDim: 32 }],
])(gpuTitle('WebGpuRunner (%s)'), (_name, over) => {
  const m = model(over, 7);
  const V = m.config.vocabSize;
  const want = referenceForward(m, prompt);

  it('one prefill, chunks, token by token, and two sequences in one ragged batch give the wasm runner\'s logits', async () => {
    const { gpu, cpu } = await pair(m);
    const req = { ids: prompt, table: [5, 1, 6] };
    const all = batchOf([{ req, start: 0, len: prompt.length }]);
    expect(worstDiff(gpu.execute(all), cpu.execute(all))).toBeLessThan(1e-4);
    expect(worstDiff(gpu.execute(all), want.at(-1)!)).toBeLessThan(1e-4);
    // the same prompt again into other blocks, in chunks, with a second sequence decoding alongside
    const again = { ids: prompt, table: [2, 9, 0] };
    const second = { ids: other, table: [7, 3] };
    expect(worstDiff(gpu.execute(batchOf([{ req: second, start: 0, len: 6 }])), cpu.execute(batchOf([{ req: second, start: 0, len: 6 }])))).toBeLessThan(1e-4);
    for (const [start, len] of [[0, 3], [3, 5], [8, 1], [9, 1], [10, 1]] as const) {
      const step = batchOf([{ req: again, start, len }, ...(start === 8 ? [{ req: second, start: 6, len: 1 }] : [])]);
      const got = gpu.execute(step);
      expect(worstDiff(got, cpu.execute(step))).toBeLessThan(1e-4);
      expect(worstDiff(got.subarray(0, V), want[start + len - 1]!)).toBeLessThan(1e-4);
    }
  });
});

describe.skipIf(gpuSkipReason !== null)(gpuTitle('WebGpuRunner cache operations'), () => {
  const m = model({}, 11);
  const seqA = { ids: prompt, table: [1, 2, 4] };

  it('copy-on-write block copies and swaps out and back in keep the logits of the wasm runner', async () => {
    const { gpu, cpu } = await pair(m, 4);
    const prefill = batchOf([{ req: seqA, start: 0, len: 7 }]);
    expect(worstDiff(gpu.execute(prefill), cpu.execute(prefill))).toBeLessThan(1e-4);
    // fork: block 2 (positions 4..6, partial) copied to 8; the child continues from block table [1, 8, …]
    const ops = { swappedOut: [], swappedIn: [], blockCopies: [{ src: 2, dst: 8 }] };
    gpu.applyCacheOps(ops);
    cpu.applyCacheOps(ops);
    const child = { ids: prompt, table: [1, 8, 10] };
    const step = batchOf([{ req: child, start: 7, len: 2 }]);
    expect(worstDiff(gpu.execute(step), cpu.execute(step))).toBeLessThan(1e-4);
    // swap the child's blocks out to host blocks 0..2, back in to 3, 5, 6, and decode from there
    const out = { swappedOut: [{ from: 1, to: 0 }, { from: 8, to: 1 }, { from: 10, to: 2 }], swappedIn: [], blockCopies: [] };
    const back = { swappedOut: [], swappedIn: [{ from: 0, to: 3 }, { from: 1, to: 5 }, { from: 2, to: 6 }], blockCopies: [] };
    for (const r of [gpu, cpu]) (r.applyCacheOps(out), r.applyCacheOps(back));
    const moved = { ids: prompt, table: [3, 5, 6] };
    const decode = batchOf([{ req: moved, start: 9, len: 2 }]);
    const got = gpu.execute(decode);
    expect(worstDiff(got, cpu.execute(decode))).toBeLessThan(1e-4);
    expect(worstDiff(got, referenceForward(m, prompt).at(-1)!)).toBeLessThan(1e-4);
  });

  it('refuses a block table that does not cover the context, naming the sizes', async () => {
    const { gpu } = await pair(m);
    const bad = batchOf([{ req: { ids: prompt, table: [1, 2, 3] }, start: 0, len: 11 }]);
    expect(() => gpu.execute({ ...bad, seqs: [{ ...bad.seqs[0]!, blockTable: Int32Array.from([1, 2]) }] })).toThrow(/a context of 11 tokens needs more than its 2 blocks of 4/);
    expect(() => gpu.execute({ ...bad, seqs: [{ ...bad.seqs[0]!, blockTable: Int32Array.from([1, 2, 12]) }] })).toThrow(/block 12 is outside the pool of 12/);
  });
});

describe.skipIf(gpuSkipReason !== null)(gpuTitle('WebGpuRunner with a vocabulary past 65535 (Llama 3, Qwen)'), () => {
  it('the LM head\'s columns spread over the dispatch grid\'s y, embedding rows past 65535 are looked up: the wasm runner\'s logits', async () => {
    const m = model({ vocabSize: 70_000, hiddenSize: 32, intermediateSize: 64, headDim: 8, numLayers: 1 }, 13);
    const { gpu, cpu } = await pair(m);
    const step = batchOf([{ req: { ids: [256, 69_999, 65_535, 65_536, 7], table: [3, 4] }, start: 0, len: 5 }]);
    expect(worstDiff(gpu.execute(step), cpu.execute(step))).toBeLessThan(1e-4);
  }, 120_000);
});

describe.skipIf(gpuSkipReason !== null)(gpuTitle('WebGpuRunner with matrices past one storage binding'), () => {
  it('splits the embedding and the LM head by rows (tied and untied) and gives the wasm runner\'s logits', async () => {
    for (const tieWordEmbeddings of [false, true]) {
      const m = model({ tieWordEmbeddings }, 17); // embedding [300, 64] float32: 76.8 kB, two parts of a 40 kB binding
      const gpu = await WebGpuRunner.create(m, { numBlocks: 12, blockSize: B, allowSoftware: true, maxNumBatchedTokens: 32, maxBindingBytes: 40_000 });
      const cpu = new ModelRunner(m, { numBlocks: 12, blockSize: B });
      runners.push(gpu, cpu);
      const step = batchOf([{ req: { ids: [256, 299, 1, 155, 156, 2], table: [3, 4] }, start: 0, len: 6 }]); // rows from both parts
      expect(worstDiff(gpu.execute(step), cpu.execute(step))).toBeLessThan(1e-4);
    }
    // the cap is honoured: at 10 kB a 32-row step's fused q/k/v output [32, (H + 2Hkv)·Dh] no longer fits one binding
    await expect(WebGpuRunner.create(model({}, 17), { numBlocks: 12, blockSize: B, allowSoftware: true, maxNumBatchedTokens: 32, maxBindingBytes: 10_000 })).rejects.toThrow(
      /activations 'qkv' for 32-row steps take 16384 B, over the adapter's max storage buffer binding of 10000 B/,
    );
  });
});
