import { describe, expect, it } from 'vitest';
import { ConfigError, InvalidRequestError } from '../../../src/errors.ts';
import { SchedulerError } from '../../../src/inference/scheduler/errors.ts';
import { Driver, makeScheduler, referenceOutputs, type Job } from './harness.ts';

const range = (start: number, n: number) => Array.from({ length: n }, (_, i) => start + i);
const job = (seqId: string, promptLen: number, maxTokens: number, start = 0): Job => ({ seqId, prompt: range(start, promptLen), maxTokens });
const summary = (d: Driver) => d.step().output.scheduled.map((s) => [s.seqId, s.numTokens, s.startPos]);

describe('Scheduler admission', () => {
  it('admits FCFS within maxNumSeqs and the token budget', () => {
    const d = new Driver(makeScheduler({ maxModelLen: 64, maxNumSeqs: 2, maxNumBatchedTokens: 64 }, { numBlocks: 32 }));
    for (const id of ['a', 'b', 'c']) d.add(job(id, 10, 5));
    const { output } = d.step();
    expect(output.scheduled.map((s) => s.seqId)).toEqual(['a', 'b']);
    expect(output.numBatchedTokens).toBe(20);
    expect(d.sched.numWaiting).toBe(1);

    const e = new Driver(makeScheduler({ maxModelLen: 64, maxNumSeqs: 4, maxNumBatchedTokens: 16 }, { numBlocks: 32 }));
    for (const id of ['a', 'b', 'c']) e.add(job(id, 10, 5));
    expect(summary(e)).toEqual([['a', 10, 0], ['b', 6, 0]]); // b's prefill is cut to the budget left
  });

  it('chunks a long prefill across steps and samples only after the last chunk', () => {
    const d = new Driver(makeScheduler({ maxModelLen: 128, maxNumSeqs: 4, maxNumBatchedTokens: 16 }, { numBlocks: 16 }));
    d.add(job('a', 50, 3));
    const chunks = [0, 1, 2, 3].map(() => d.step().output.scheduled[0]!);
    expect(chunks.map((c) => [c.numTokens, c.startPos, c.sample, c.isPrefill])).toEqual([
      [16, 0, false, true],
      [16, 16, false, true],
      [16, 32, false, true],
      [2, 48, true, true],
    ]);
    expect(chunks[3]!.tokenIds).toEqual([48, 49]);
    expect(chunks[3]!.blockTable).toHaveLength(4);
    expect(d.step().output.scheduled[0]).toMatchObject({ numTokens: 1, startPos: 50, isPrefill: false });
  });

  it('without chunked prefill, a prompt that does not fit the budget left waits whole', () => {
    const d = new Driver(makeScheduler({ maxModelLen: 32, maxNumSeqs: 4, maxNumBatchedTokens: 32, enableChunkedPrefill: false }, { numBlocks: 16 }));
    d.add(job('a', 20, 3));
    d.add(job('b', 20, 3, 100));
    expect(summary(d)).toEqual([['a', 20, 0]]);
    expect(summary(d)).toEqual([['a', 1, 20], ['b', 20, 0]]);
  });

  it('schedules running decodes before continuing prefills and new admissions', () => {
    const d = new Driver(makeScheduler({ maxModelLen: 256, maxNumSeqs: 4, maxNumBatchedTokens: 16 }, { numBlocks: 32 }));
    d.add(job('long', 100, 2));
    d.step();
    d.add(job('short', 4, 5, 1000)); // arrives while 'long' still has prefill left
    expect(summary(d)).toEqual([['long', 16, 16]]);
    for (let i = 0; i < 4; i++) d.step(); // long's chunks up to position 96
    expect(summary(d)).toEqual([['long', 4, 96], ['short', 4, 0]]); // short admitted with the budget left
    expect(summary(d)).toEqual([['long', 1, 100], ['short', 1, 4]]);
    const d2 = new Driver(makeScheduler({ maxModelLen: 256, maxNumSeqs: 4, maxNumBatchedTokens: 16 }, { numBlocks: 32 }));
    d2.add(job('dec', 4, 10));
    d2.step(); // dec prefilled, decoding from now on
    d2.add(job('pre', 60, 2));
    expect(summary(d2)).toEqual([['dec', 1, 4], ['pre', 15, 0]]);
    expect(summary(d2)).toEqual([['dec', 1, 5], ['pre', 15, 15]]);
  });

  it('rejects at add what could never run', () => {
    const s = makeScheduler({ maxModelLen: 64, maxNumSeqs: 2, maxNumBatchedTokens: 64 }, { numBlocks: 4 });
    expect(() => s.addRequest({ seqId: 'x', promptTokenIds: range(0, 65) })).toThrow(InvalidRequestError);
    expect(() => s.addRequest({ seqId: 'x', promptTokenIds: range(0, 65) })).toThrow(/maximum context length is 64 tokens, but the prompt of x has 65/);
    expect(() => s.addRequest({ seqId: 'x', promptTokenIds: [] })).toThrow(/empty/);
    expect(() => s.addRequest({ seqId: 'x', promptTokenIds: [1, 2.5] })).toThrow(/index 1 is 2.5/);
    s.addRequest({ seqId: 'x', promptTokenIds: [1] });
    expect(() => s.addRequest({ seqId: 'x', promptTokenIds: [1] })).toThrow(/already in the scheduler/);
    // A pool smaller than one max-length sequence would leave requests stuck: refused up front.
    expect(() => makeScheduler({ maxModelLen: 65 }, { numBlocks: 4 })).toThrow(ConfigError);
    expect(() => makeScheduler({ maxModelLen: 64, maxNumSeqs: 8, maxNumBatchedTokens: 4 }, { numBlocks: 4 })).toThrow(
      /scheduler\.maxNumBatchedTokens: 4 is smaller than maxNumSeqs 8/,
    );
    expect(() => makeScheduler({ maxModelLen: 64, preemptionMode: 'swap' }, { numBlocks: 4 })).toThrow(/no host pool/);
  });

  it('refuses out-of-order engine calls', () => {
    const d = new Driver(makeScheduler({ maxModelLen: 64, maxNumSeqs: 2, maxNumBatchedTokens: 64 }, { numBlocks: 8 }));
    d.add(job('a', 10, 5));
    const out = d.sched.schedule();
    expect(() => d.sched.schedule()).toThrow(SchedulerError);
    expect(() => d.sched.updateFromOutput(out, new Map())).toThrow(/a was sampled in step 0 but got token undefined/);
    d.sched.updateFromOutput(out, new Map([['a', 3]]));
    expect(() => d.sched.updateFromOutput(out, new Map([['a', 3]]))).toThrow(/not the pending step/);
  });
});

describe('Scheduler preemption', () => {
  // 6 blocks of 4 tokens; three 4-token prompts decode until the pool runs dry.
  const jobs = ['a', 'b', 'c'].map((id, i) => job(id, 4, 10, 10 * i));

  for (const mode of ['recompute', 'swap'] as const) {
    it(`${mode}: preempts the latest arrival first and still generates the reference tokens`, () => {
      const sched = makeScheduler({ maxModelLen: 24, maxNumSeqs: 4, maxNumBatchedTokens: 24, preemptionMode: mode }, { numBlocks: 6, blockSize: 4, hostBlocks: 8 });
      const d = new Driver(sched);
      for (const j of jobs) d.add(j);
      const preemptions: string[][] = [];
      let swappedIn = 0;
      d.runToEnd(1000, (out) => {
        sched.checkInvariants();
        if (out.preempted.length > 0) {
          preemptions.push([...out.preempted]);
          const latestScheduled = Math.max(...out.scheduled.map((s) => sched.get(s.seqId)?.arrival ?? d.seqs.get(s.seqId)!.arrival));
          for (const id of out.preempted) expect(d.seqs.get(id)!.arrival).toBeGreaterThan(latestScheduled);
        }
        if (mode === 'swap') expect(out.swappedOut.length > 0).toBe(out.preempted.length > 0);
        swappedIn += out.swappedIn.length;
      });
      expect(preemptions[0]).toEqual(['c']);
      expect(d.seqs.get('c')!.numPreemptions).toBeGreaterThan(0);
      if (mode === 'swap') expect(swappedIn).toBeGreaterThan(0);
      expect(d.outputs).toEqual(referenceOutputs(jobs));
      expect(sched.manager.pool.numFree).toBe(6);
      if (mode === 'swap') expect(sched.manager.hostPool!.numFree).toBe(8);
    });
  }

  it('puts a recompute-preempted sequence at the front of waiting', () => {
    const sched = makeScheduler({ maxModelLen: 24, maxNumSeqs: 4, maxNumBatchedTokens: 24 }, { numBlocks: 6, blockSize: 4 });
    const d = new Driver(sched);
    for (const j of jobs) d.add(j);
    while (d.step().output.preempted.length === 0);
    d.add(job('late', 4, 2));
    expect(sched.numWaiting).toBe(2);
    // c re-prefills prompt + the outputs it had kept, before 'late' is admitted.
    let first: string | undefined;
    while (!first) first = d.step().output.scheduled.find((s) => s.seqId === 'c' || s.seqId === 'late')?.seqId;
    expect(first).toBe('c');
  });
});

describe('Scheduler lifecycle', () => {
  it('does not starve a long request among many short ones', () => {
    const sched = makeScheduler({ maxModelLen: 512, maxNumSeqs: 8, maxNumBatchedTokens: 32 }, { numBlocks: 40, blockSize: 16 });
    const d = new Driver(sched);
    d.add(job('short0', 8, 4));
    d.add(job('long', 400, 60));
    let n = 1;
    while (!d.finishStep.has('long')) {
      if (d.steps > 2000) throw new Error('long request starved');
      d.add(job(`short${n++}`, 8 + (n % 13), 4 + (n % 7), n)); // one new short request every step
      d.step();
    }
    expect(d.outputs.get('long')).toEqual(referenceOutputs([job('long', 400, 60)]).get('long'));
    d.runToEnd();
    expect(sched.manager.pool.numFree).toBe(40);
  });

  it('abort frees the blocks at once, in any queue', () => {
    const sched = makeScheduler({ maxModelLen: 64, maxNumSeqs: 1, maxNumBatchedTokens: 64 }, { numBlocks: 8, blockSize: 16, prefixCaching: false });
    const d = new Driver(sched);
    d.add(job('a', 40, 50));
    d.add(job('b', 10, 5));
    d.step();
    expect(sched.manager.pool.numFree).toBe(5);
    expect(sched.abort('b')).toBe(true); // waiting
    expect(sched.abort('a')).toBe(true); // running
    expect(sched.manager.pool.numFree).toBe(8);
    expect(sched.abort('a')).toBe(false);
    expect(sched.hasUnfinished()).toBe(false);
  });

  it('finds the shared 40-token prefix of a later request in the cache (2 full blocks)', () => {
    const sched = makeScheduler({ maxModelLen: 128, maxNumSeqs: 4, maxNumBatchedTokens: 128 }, { numBlocks: 16, blockSize: 16 });
    const d = new Driver(sched);
    const prefix = range(500, 40);
    d.add({ seqId: 'a', prompt: [...prefix, 1, 2, 3], maxTokens: 3 });
    d.step();
    d.add({ seqId: 'b', prompt: [...prefix, 4, 5], maxTokens: 3 });
    const b = d.step().output.scheduled.find((s) => s.seqId === 'b')!;
    expect(b).toMatchObject({ startPos: 32, numTokens: 10 });
    expect(b.blockTable.slice(0, 2)).toEqual(sched.manager.blockTable('a').slice(0, 2));
    d.runToEnd();
    expect(d.outputs.get('b')).toEqual(referenceOutputs([{ seqId: 'b', prompt: [...prefix, 4, 5], maxTokens: 3 }]).get('b'));
    expect(sched.manager.pool.stats()).toMatchObject({ numFree: 16, prefixHits: 2 });
    expect(sched.manager.pool.stats().numFreeCached).toBeGreaterThan(0); // free, but still cached
  });

  it('n = 3: forks share the prompt blocks and copy the partial one on first write', () => {
    const sched = makeScheduler({ maxModelLen: 128, maxNumSeqs: 4, maxNumBatchedTokens: 128 }, { numBlocks: 16, blockSize: 16 });
    const d = new Driver(sched);
    d.add(job('p', 40, 5));
    d.step(); // prefill; p sampled its first token
    const parent = sched.get('p')!;
    const first = parent.outputTokenIds[0]!;
    sched.fork('p', 'p.1', [first + 1]); // each sample draws its own first token
    sched.fork('p', 'p.2', [first + 2]);
    const [b0, b1, partial] = sched.manager.blockTable('p');
    expect([b0, b1, partial].map((id) => sched.manager.pool.refCount(id!))).toEqual([3, 3, 3]);
    expect(sched.manager.pool.numFree).toBe(13);

    const out = sched.schedule();
    expect(out.scheduled.map((s) => [s.seqId, s.startPos, s.tokenIds[0]])).toEqual([
      ['p', 40, first],
      ['p.1', 40, first + 1],
      ['p.2', 40, first + 2],
    ]);
    expect(out.blockCopies).toHaveLength(2);
    expect(out.blockCopies.every((c) => c.src === partial)).toBe(true);
    const tables = out.scheduled.map((s) => s.blockTable);
    expect(tables.every((t) => t[0] === b0 && t[1] === b1)).toBe(true);
    expect(new Set(tables.map((t) => t[2])).size).toBe(3);
    sched.checkInvariants();
    sched.updateFromOutput(out, new Map(out.scheduled.map((s) => [s.seqId, 7])));
    for (const id of ['p', 'p.1', 'p.2']) sched.abort(id);
    expect(sched.manager.pool.numFree).toBe(16);
  });
});
