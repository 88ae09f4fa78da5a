import * as tf from '@tensorflow/tfjs-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { InvalidRequestError } from '../../../src/errors.ts';
import { LLM, LLMEngine } from '../../../src/inference/engine/index.ts';
import { makeSamplingParams } from '../../../src/inference/sampler/index.ts';
import { initBackend } from '../../../src/runtime/backend/index.ts';
import { countTurns } from '../../helpers/event_loop.ts';
import { referenceForward, referenceGreedy } from '../../helpers/reference_llama.ts';
import { tinyGguf } from './fixture.ts';

const fx = tinyGguf(3);
afterAll(() => fx.cleanup());
beforeAll(async () => {
  await initBackend();
});

const prompts = [[256, 72, 105], [256, 1, 2, 3, 4, 5, 6, 7, 8, 9], [256, 40], [256, 100, 101, 102, 103, 104]];
const greedy = (max: number) => makeSamplingParams({ temperature: 0, max_tokens: max, ignore_eos: true });
const want = prompts.map((p, i) => referenceGreedy(fx.model, p, 4 + i));

describe('LLM (offline)', () => {
  it.each([
    ['continuous batching, chunked prefill', { maxNumBatchedTokens: 8, maxNumSeqs: 3 }],
    ['static batching', { batching: 'static' as const, maxNumSeqs: 2 }],
    ['few blocks: preemption by recompute', { kvCacheMemory: 6 * 1024, maxModelLen: 20 }],
    ['2 runner threads', { threads: 2, maxNumSeqs: 4 }],
  ])('greedy tokens equal the reference (%s)', (_name, cfg) => {
    const llm = new LLM({ model: fx.model, blockSize: 4, kvCacheMemory: '1MiB', ...cfg });
    const before = tf.memory().numTensors;
    const outs = llm.generate(prompts, prompts.map((_, i) => greedy(4 + i)));
    expect(tf.memory().numTensors).toBe(before);
    outs.forEach((o, i) => {
      expect(o.finished).toBe(true);
      expect(o.promptTokenIds).toEqual(prompts[i]);
      expect(o.outputs[0]!.tokenIds).toEqual(want[i]);
      expect(o.outputs[0]!.finishReason).toBe('length');
    });
    if ('kvCacheMemory' in cfg) expect(llm.engine.stats().numPreemptions).toBeGreaterThan(0);
    // Every block is back in the pool.
    expect(llm.engine.manager.pool.numFree).toBe(llm.engine.manager.pool.numBlocks);
    llm.dispose();
  });

  it('n > 1 samples share the prompt blocks (CoW) and each decodes correctly', () => {
    const llm = new LLM({ model: fx.model, blockSize: 4, kvCacheMemory: '1MiB' });
    // top_k 1 at temperature 1: a random draw over one candidate, so every sample is the greedy path.
    const [out] = llm.generate([prompts[1]!], makeSamplingParams({ n: 3, temperature: 1, top_k: 1, max_tokens: 6, ignore_eos: true, logprobs: 1 }));
    const ref = referenceGreedy(fx.model, prompts[1]!, 6);
    expect(out!.outputs.map((o) => o.index)).toEqual([0, 1, 2]);
    for (const o of out!.outputs) {
      expect(o.tokenIds).toEqual(ref);
      expect(o.logprobs).toHaveLength(6);
      expect(o.cumulativeLogprob).toBeCloseTo(o.logprobs!.reduce((s, l) => s + l.logprob, 0), 9);
    }
    llm.dispose();
  });

  it('seeded sampling is reproducible and independent of the batch', () => {
    const llm = new LLM({ model: fx.model, blockSize: 4, kvCacheMemory: '1MiB' });
    const p = makeSamplingParams({ temperature: 1, seed: 42, max_tokens: 8, ignore_eos: true });
    const alone = llm.generate([prompts[0]!], p)[0]!.outputs[0]!.tokenIds;
    const batched = llm.generate(prompts, p)[0]!.outputs[0]!.tokenIds;
    expect(batched).toEqual(alone);
    llm.dispose();
  });

  it('text prompts are encoded with BOS and the output text decodes the tokens', () => {
    const llm = new LLM({ model: fx.model, kvCacheMemory: '1MiB' });
    const [o] = llm.generate('hi', greedy(5));
    expect(o!.prompt).toBe('hi');
    expect(o!.promptTokenIds).toEqual([256, 104, 105]);
    expect(o!.outputs[0]!.tokenIds).toEqual(referenceGreedy(fx.model, [256, 104, 105], 5));
    llm.dispose();
  });
});

describe('LLMEngine requests', () => {
  it('prompt logprobs equal the log-softmax of the reference, chunked and after a prefix-cache hit', () => {
    const prompt = [256, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11];
    const logits = referenceForward(fx.model, prompt); // row p scores token p + 1
    const logSoftmax = (row: Float64Array, t: number) => {
      const m = Math.max(...row);
      return row[t]! - m - Math.log(row.reduce((z, x) => z + Math.exp(x - m), 0));
    };
    const engine = new LLMEngine(fx.model, { kvCacheMemory: '1MiB', blockSize: 4, maxNumBatchedTokens: 5, maxNumSeqs: 2 });
    const params = makeSamplingParams({ temperature: 0, max_tokens: 2, prompt_logprobs: 2 });
    // the same prompt twice: the second would start from cached blocks, but needs every position
    for (const id of ['first', 'second']) {
      engine.addRequest(id, prompt, params);
      let last;
      while (engine.hasUnfinished()) for (const o of engine.step()) last = o;
      const lp = last!.promptLogprobs!;
      expect(lp).toHaveLength(prompt.length);
      expect(lp[0]).toBeNull();
      for (let p = 1; p < prompt.length; p++) {
        expect(lp[p]!.logprob).toBeCloseTo(logSoftmax(logits[p - 1]!, prompt[p]!), 4);
        expect(lp[p]!.top).toHaveLength(2);
      }
      expect(last!.outputs[0]!.tokenIds).toEqual(referenceGreedy(fx.model, prompt, 2));
    }
    expect(engine.stats().prefixCacheHits).toBe(0);
    engine.dispose();
  });

  it('LLMEngine.create builds the same engine while the event loop keeps turning (layers placed, threads started)', async () => {
    const turns = countTurns();
    const engine = await LLMEngine.create(fx.model, { kvCacheMemory: '1MiB', blockSize: 4, threads: 2 });
    expect(turns.stop()).toBeGreaterThanOrEqual(fx.model.config.numLayers);
    expect(engine.runner.numThreads).toBe(2);
    engine.addRequest('r', prompts[1]!, greedy(5));
    let last;
    while (engine.hasUnfinished()) for (const o of engine.step()) last = o;
    expect(last!.outputs[0]!.tokenIds).toEqual(want[1]);
    engine.dispose();
  }, 60_000);

  it('a KV cache beyond what one wasm memory addresses is a config error naming kvCacheMemory', () => {
    expect(() => new LLMEngine(fx.model, { kvCacheMemory: '5GiB' })).toThrow(/kvCacheMemory: the weights .*, the KV cache \(5\.00 GiB\) and 1 thread\(s\) of activations .* must fit the 4\.00 GiB/);
  });

  it('a prompt longer than the context is an InvalidRequestError before any work', () => {
    const engine = new LLMEngine(fx.model, { kvCacheMemory: '1MiB', maxModelLen: 16 });
    const long = Array.from({ length: 17 }, (_, i) => i);
    expect(() => engine.addRequest('a', long, greedy(1))).toThrow(InvalidRequestError);
    expect(() => engine.addRequest('b', [300], greedy(1))).toThrow(/outside the vocabulary of 258/);
    expect(engine.hasUnfinished()).toBe(false);
    engine.dispose();
  });

  it('requests join at the next step, leave at the step they finish, and abort frees blocks', () => {
    const engine = new LLMEngine(fx.model, { kvCacheMemory: '1MiB', blockSize: 4 });
    engine.addRequest('a', prompts[0]!, greedy(3));
    expect(engine.step().map((o) => o.requestId)).toEqual(['a']);
    engine.addRequest('b', prompts[1]!, greedy(10));
    const s2 = engine.step();
    expect(s2.map((o) => o.requestId)).toEqual(['a', 'b']);
    expect(engine.scheduler.numRunning).toBe(2);
    const s3 = engine.step();
    expect(s3.find((o) => o.requestId === 'a')!.finished).toBe(true);
    expect(engine.scheduler.numRunning).toBe(1);
    const last = engine.abortRequest('b')!;
    expect(last.outputs[0]!.finishReason).toBe('abort');
    expect(engine.hasUnfinished()).toBe(false);
    expect(engine.manager.pool.numFree).toBe(engine.manager.pool.numBlocks);
    engine.dispose();
  });

  it('max_model_len ends a sequence with finish reason length', () => {
    const engine = new LLMEngine(fx.model, { kvCacheMemory: '1MiB', maxModelLen: 12 });
    engine.addRequest('a', prompts[1]!, makeSamplingParams({ temperature: 0, ignore_eos: true }));
    let last;
    while (engine.hasUnfinished()) for (const o of engine.step()) last = o;
    expect(last!.outputs[0]!.tokenIds).toHaveLength(2);
    expect(last!.outputs[0]!.finishReason).toBe('length');
    engine.dispose();
  });
});

describe('static batching', () => {
  it('admits a new batch only once the previous one has drained; nobody joins meanwhile', () => {
    const engine = new LLMEngine(fx.model, { kvCacheMemory: '1MiB', blockSize: 4, batching: 'static', maxNumSeqs: 2 });
    [3, 9, 2, 2].forEach((n, i) => engine.addRequest(`r${i}`, prompts[i]!, greedy(n)));
    const running: number[] = [];
    while (engine.hasUnfinished()) {
      engine.step();
      running.push(engine.scheduler.numRunning);
    }
    // Batch {r0, r1}: r0 leaves after 3 tokens, r1 runs alone to 9; only then {r2, r3}.
    expect(running).toEqual([2, 2, 1, 1, 1, 1, 1, 1, 0, 2, 0]);
    engine.dispose();
  });

  it('computes the batch densely: prompts padded to the longest, finished members as padding rows', () => {
    const engine = new LLMEngine(fx.model, { kvCacheMemory: '1MiB', blockSize: 4, batching: 'static', maxNumSeqs: 2 });
    const rows: number[] = [];
    const execute = engine.runner.execute.bind(engine.runner);
    engine.runner.execute = (batch) => (rows.push(batch.tokenIds.length), execute(batch));
    [3, 9, 2, 2].forEach((n, i) => engine.addRequest(`r${i}`, prompts[i]!, greedy(n)));
    const outputs = new Map<string, number[]>();
    while (engine.hasUnfinished()) for (const o of engine.step()) outputs.set(o.requestId, [...o.outputs[0]!.tokenIds]);
    const longest = (a: number, b: number) => Math.max(prompts[a]!.length, prompts[b]!.length);
    // [2 × longest prompt], then 2 rows per decode step until r1's 9th token; the same for {r2, r3}
    expect(rows).toEqual([2 * longest(0, 1), ...Array(8).fill(2), 2 * longest(2, 3), 2]);
    // the padding changes no result: the tokens are continuous batching's
    const ref = new LLMEngine(fx.model, { kvCacheMemory: '1MiB', blockSize: 4 });
    [3, 9, 2, 2].forEach((n, i) => ref.addRequest(`r${i}`, prompts[i]!, greedy(n)));
    const refOut = new Map<string, number[]>();
    while (ref.hasUnfinished()) for (const o of ref.step()) refOut.set(o.requestId, [...o.outputs[0]!.tokenIds]);
    expect(outputs).toEqual(refOut);
    engine.dispose();
    ref.dispose();
  });
});
