/** The runner's contract: its logits equal the float64 reference however the prompt is cut into steps. */
import { beforeAll, describe, expect, it } from 'vitest';
import type { ModelConfig } from '../../../src/models/types.ts';
import type { LoadedModel } from '../../../src/inference/loaders/types.ts';
import type { Tokenizer } from '../../../src/data/tokenizer/types.ts';
import { ModelRunner } from '../../../src/inference/runner/index.ts';
import type { RunnerBatch } from '../../../src/inference/runner/index.ts';
import { initBackend } from '../../../src/runtime/backend/index.ts';
import { randomWeights, tinyConfig } from '../../helpers/random_llama.ts';
import { referenceForward } from '../../helpers/reference_llama.ts';

beforeAll(async () => {
  await initBackend();
});

const B = 4; // block size: small, so short prompts cross blocks

function model(over: Partial<ModelConfig>, seed: number): LoadedModel {
  const config = tinyConfig({ numLayers: 2, maxPositionEmbeddings: 64, ...over });
  return { config, weights: randomWeights(config, seed), tokenizer: {} as Tokenizer, source: 'random' };
}

interface Req {
  ids: number[];
  table: number[]; // block ids, scattered on purpose
}

/** One step: for each request, tokens [start, start+len) with its block table. */
function batchOf(parts: { req: Req; start: number; len: number }[]): RunnerBatch {
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

function expectClose(got: Float32Array, want: Float64Array): void {
  expect(got.length).toBe(want.length);
  let worst = 0;
  for (let i = 0; i < want.length; i++) worst = Math.max(worst, Math.abs(got[i]! - want[i]!));
  expect(worst).toBeLessThan(1e-4);
}

describe.each([
  ['half rope, GQA 4/2', { ropeStyle: 'half' as const }],
  ['adjacent rope, GQA 4/1', { ropeStyle: 'adjacent' as const, numKvHeads: 1 }],
  ['half rope, MHA, tied embeddings', { ropeStyle: 'half' as const, numKvHeads: 4, tieWordEmbeddings: true }],
  ['qwen2: q/k/v biases', { attentionBias: true }],
  ['qwen3: q/k norms, head dim 32 ≠ D/H', { qkNorm: true, headDim: 32 }],
  ['llama 3.1 rope scaling', { ropeStyle: 'adjacent' as const, ropeScaling: { type: 'llama3' as const, factor: 8, lowFreqFactor: 1, highFreqFactor: 4, originalMaxPositionEmbeddings: 8 } }],
])('ModelRunner (%s)', (_name, over) => {
  const m = model(over, 7);
  const V = m.config.vocabSize;
  const prompt = [256, 104, 101, 108, 108, 111, 32, 119, 111, 114, 108];
  const want = referenceForward(m, prompt);

  it('one prefill, chunks, and token by token all give the reference logits', () => {
    const runner = new ModelRunner(m, { numBlocks: 8, blockSize: B });
    const req = { ids: prompt, table: [5, 1, 6] };
    expectClose(runner.execute(batchOf([{ req, start: 0, len: prompt.length }])), want.at(-1)!);

    const chunked = new ModelRunner(m, { numBlocks: 8, blockSize: B });
    for (const [start, len] of [[0, 3], [3, 5], [8, 3]] as const) {
      expectClose(chunked.execute(batchOf([{ req, start, len }])), want[start + len - 1]!);
    }
    const single = new ModelRunner(m, { numBlocks: 8, blockSize: B });
    for (let p = 0; p < prompt.length; p++) expectClose(single.execute(batchOf([{ req, start: p, len: 1 }])), want[p]!);
    for (const r of [runner, chunked, single]) r.dispose();
  });

  it('a ragged batch of several sequences equals each alone, and allocates nothing once warm', () => {
    const a = { ids: prompt, table: [7, 2, 0] };
    const b = { ids: [256, 50, 60, 70, 80, 90], table: [4, 3] };
    const c = { ids: [256, 9], table: [1] };
    const runner = new ModelRunner(m, { numBlocks: 8, blockSize: B });
    // a: prefilled earlier in two chunks; then a step mixing a's decode, b's chunk and c's prompt.
    runner.execute(batchOf([{ req: a, start: 0, len: 6 }]));
    runner.execute(batchOf([{ req: a, start: 6, len: 4 }, { req: b, start: 0, len: 2 }]));
    const out = runner.execute(batchOf([{ req: a, start: 10, len: 1 }, { req: b, start: 2, len: 4 }, { req: c, start: 0, len: 2 }]));
    const before = runner.arena.allocatedBytes;
    // the same step again (it rewrites the same slots): activations and scratch reuse their regions
    expect(runner.execute(batchOf([{ req: a, start: 10, len: 1 }, { req: b, start: 2, len: 4 }, { req: c, start: 0, len: 2 }]))).toEqual(out);
    expect(runner.arena.allocatedBytes).toBe(before);
    expectClose(out.subarray(0, V), want[10]!);
    expectClose(out.subarray(V, 2 * V), referenceForward(m, b.ids)[5]!);
    expectClose(out.subarray(2 * V), referenceForward(m, c.ids)[1]!);
    runner.dispose();
  });

  it.each([2, 3])('on %i threads (steps of 4+ rows a thread split by sequence) gives the one-thread logits and the reference', (threads) => {
    const a = { ids: prompt, table: [7, 2, 0] };
    const b = { ids: [256, 50, 60, 70, 80, 90], table: [4, 3] };
    const c = { ids: [256, 9], table: [1] };
    // rows per step: 12 (split by sequence on 2 and 3 threads), 8 (on 2), then 2 (products split by rows)
    const steps = [
      [{ req: a, start: 0, len: 6 }, { req: b, start: 0, len: 4 }, { req: c, start: 0, len: 2 }],
      [{ req: a, start: 6, len: 4 }, { req: b, start: 4, len: 2 }, { req: c, start: 0, len: 2 }], // a's earlier K/V may come from another thread
      [{ req: a, start: 10, len: 1 }, { req: c, start: 1, len: 1 }],
    ];
    const one = new ModelRunner(m, { numBlocks: 8, blockSize: B });
    // every product of a step not split by sequence is split by rows (the last steps); a step split by sequence splits none
    const many = new ModelRunner(m, { numBlocks: 8, blockSize: B, threads, rowSplitMinBytes: 0 });
    expect(many.numThreads).toBe(threads);
    for (const step of steps) {
      const want1 = one.execute(batchOf(step));
      const got = many.execute(batchOf(step));
      // float32 rounding only: a row summed in the gemm's 4-row tile or alone adds in another order
      expect(Math.max(...got.map((x, i) => Math.abs(x - want1[i]!)))).toBeLessThan(1e-4);
    }
    const last = many.execute(batchOf([{ req: a, start: 10, len: 1 }, { req: b, start: 5, len: 1 }, { req: c, start: 1, len: 1 }]));
    expectClose(last.subarray(0, V), want[10]!);
    expectClose(last.subarray(V, 2 * V), referenceForward(m, b.ids)[5]!);
    expectClose(last.subarray(2 * V), referenceForward(m, c.ids)[1]!);
    one.dispose();
    many.dispose();
  }, 60_000);

  it.each([2, 3])('on %i threads with every product split by rows (one sequence: prefill, then decode) gives the one-thread logits', (threads) => {
    const req = { ids: prompt, table: [5, 1, 6] };
    const one = new ModelRunner(m, { numBlocks: 8, blockSize: B });
    const rows = new ModelRunner(m, { numBlocks: 8, blockSize: B, threads, rowSplitMinBytes: 0 });
    for (const [start, len] of [[0, 8], [8, 1], [9, 1], [10, 1]] as const) {
      const step = batchOf([{ req, start, len }]);
      // the same kernels over the same rows in another order of chunks: the same floats
      expect(rows.execute(step)).toEqual(one.execute(step));
    }
    expectClose(rows.execute(batchOf([{ req, start: 10, len: 1 }])), want[10]!);
    one.dispose();
    rows.dispose();
  }, 60_000);
});

describe('ModelRunner threads after a failed step', () => {
  it('a worker\'s error surfaces, and the next step gets its own logits (no reply left behind)', () => {
    const m = model({ ropeStyle: 'half' }, 9);
    const V = m.config.vocabSize;
    const reqs = [0, 1, 2].map((i) => ({ ids: [256, 10 + i, 20 + i, 30 + i, 40 + i, 50 + i, 60 + i, 70 + i], table: [2 * i, 2 * i + 1] }));
    const three = new ModelRunner(m, { numBlocks: 8, blockSize: B, threads: 3 });
    const one = new ModelRunner(m, { numBlocks: 8, blockSize: B });
    const bad = batchOf(reqs.map((req) => ({ req, start: 0, len: 4 })));
    bad.slotMapping[0] = 999; // the first part (a worker's) writes outside the pool
    expect(() => three.execute(bad)).toThrow(/runner worker 1 failed .*slotMapping\[0\] = 999 is outside/s);
    const step = batchOf(reqs.map((req) => ({ req, start: 0, len: 5 })));
    const got = three.execute(step);
    const want = one.execute(step);
    expect(Math.max(...got.map((x, i) => Math.abs(x - want[i]!)))).toBeLessThan(1e-4);
    expectClose(got.subarray(V, 2 * V), referenceForward(m, reqs[1]!.ids)[4]!);
    one.dispose();
    three.dispose();
  }, 60_000);
});

describe('ModelRunner cache ops', () => {
  it('copy-on-write block copies and a swap round trip keep the logits', () => {
    const m = model({}, 3);
    const prompt = [256, 10, 20, 30, 40, 50];
    const want = referenceForward(m, [...prompt, 60]);
    const runner = new ModelRunner(m, { numBlocks: 6, blockSize: B, numHostBlocks: 4 });
    runner.execute(batchOf([{ req: { ids: prompt, table: [0, 1] }, start: 0, len: 6 }]));
    // Fork: the partial block 1 is copied to 2 before the child writes; then swap the child out and back.
    runner.applyCacheOps({ swappedOut: [], swappedIn: [], blockCopies: [{ src: 1, dst: 2 }] });
    runner.applyCacheOps({ swappedOut: [{ from: 0, to: 3 }, { from: 2, to: 0 }], swappedIn: [], blockCopies: [] });
    runner.applyCacheOps({ swappedOut: [], swappedIn: [{ from: 3, to: 4 }, { from: 0, to: 5 }], blockCopies: [] });
    const child = { ids: [...prompt, 60], table: [4, 5] };
    expectClose(runner.execute(batchOf([{ req: child, start: 6, len: 1 }])), want[6]!);
    runner.dispose();
  });
});
