import { describe, expect, it } from 'vitest';
import type { SchedulerOutput } from '../../../src/inference/scheduler/output.ts';
import type { Scheduler } from '../../../src/inference/scheduler/scheduler.ts';
import type { Sequence } from '../../../src/inference/scheduler/sequence.ts';
import { fakeNextToken, makeScheduler } from './harness.ts';

/** mulberry32: a small seeded PRNG, so a failure replays exactly. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/**
 * A model runner over simulated K/V memory: each slot stores the token id written there.
 * It applies swaps and copies as the SchedulerOutput orders, writes this step's tokens through
 * the block tables, and "samples" from the history it reads back through the block table, so
 * any mistake in paging, copy on write, swapping or prefix reuse changes the tokens.
 */
class FakeRunner {
  readonly device: Int32Array;
  readonly host: Int32Array;
  constructor(readonly blockSize: number, numBlocks: number, hostBlocks: number) {
    this.device = new Int32Array(numBlocks * blockSize).fill(-1);
    this.host = new Int32Array(hostBlocks * blockSize).fill(-1);
  }

  run(out: SchedulerOutput, sched: Scheduler): Map<string, number> {
    const B = this.blockSize;
    const copy = (src: Int32Array, from: number, dst: Int32Array, to: number) => dst.set(src.subarray(from * B, (from + 1) * B), to * B);
    for (const m of out.swappedOut) copy(this.device, m.from, this.host, m.to);
    for (const m of out.swappedIn) copy(this.host, m.from, this.device, m.to);
    for (const c of out.blockCopies) copy(this.device, c.src, this.device, c.dst);
    const written = new Set<number>();
    for (const s of out.scheduled) {
      for (let i = 0; i < s.numTokens; i++) {
        const pos = s.startPos + i;
        const block = s.blockTable[Math.floor(pos / B)]!;
        expect(sched.manager.pool.refCount(block), `write into shared block ${block}`).toBe(1);
        expect(sched.manager.pool.hashOfBlock(block), `write into cached block ${block}`).toBeNull();
        const slot = block * B + (pos % B);
        expect(written.has(slot), `slot ${slot} written twice in step ${out.step}`).toBe(false);
        written.add(slot);
        this.device[slot] = s.tokenIds[i]!;
      }
    }
    const sampled = new Map<string, number>();
    for (const s of out.scheduled) {
      if (!s.sample) continue;
      const n = s.startPos + s.numTokens;
      const history = Array.from({ length: n }, (_, p) => this.device[s.blockTable[Math.floor(p / B)]! * B + (p % B)]!);
      expect(history).toEqual(sched.get(s.seqId)!.tokenIds);
      sampled.set(s.seqId, fakeNextToken(history));
    }
    return sampled;
  }
}

interface SimConfig {
  seed: number;
  mode: 'recompute' | 'swap';
  chunked: boolean;
  prefixCaching: boolean;
  steps: number;
}

function simulate(cfg: SimConfig) {
  const r = rng(cfg.seed);
  const int = (lo: number, hi: number) => lo + Math.floor(r() * (hi - lo + 1));
  const B = 4, numBlocks = 40, hostBlocks = 24, maxModelLen = 96;
  const sched = makeScheduler(
    { maxModelLen, maxNumSeqs: 8, maxNumBatchedTokens: cfg.chunked ? 32 : maxModelLen, enableChunkedPrefill: cfg.chunked, preemptionMode: cfg.mode },
    { numBlocks, blockSize: B, hostBlocks, prefixCaching: cfg.prefixCaching },
  );
  const runner = new FakeRunner(B, numBlocks, hostBlocks);
  const prefixes = [0, 1, 2].map(() => Array.from({ length: int(8, 40) }, () => int(0, 999)));
  const live = new Map<string, { seq: Sequence; maxTokens: number }>();
  const stats = { finished: 0, aborted: 0, forks: 0, preemptions: 0, copies: 0, swaps: 0, steps: 0 };
  let next = 0;

  const step = () => {
    const out = sched.schedule();
    expect(out.numBatchedTokens).toBeLessThanOrEqual(sched.config.maxNumBatchedTokens);
    expect(out.numBatchedTokens).toBe(out.scheduled.reduce((a, s) => a + s.numTokens, 0));
    expect(new Set(out.scheduled.map((s) => s.seqId)).size).toBe(out.scheduled.length);
    expect(out.scheduled.length).toBeLessThanOrEqual(8);
    for (const id of out.preempted) expect(out.scheduled.some((s) => s.seqId === id)).toBe(false);
    stats.preemptions += out.preempted.length;
    stats.copies += out.blockCopies.length;
    stats.swaps += out.swappedOut.length;
    const sampled = runner.run(out, sched);
    const done = [...sampled.keys()].filter((id) => live.get(id)!.seq.outputTokenIds.length + 1 >= live.get(id)!.maxTokens || r() < 0.02);
    for (const f of sched.updateFromOutput(out, sampled, done)) {
      live.delete(f.seqId);
      stats.finished++;
    }
    sched.checkInvariants();
    stats.steps++;
  };

  for (let t = 0; t < cfg.steps; t++) {
    // Mostly below the pool's throughput, with bursts that force preemption.
    for (let k = r() < 0.02 ? int(4, 8) : r() < 0.15 ? 1 : 0; k > 0; k--) {
      const base = r() < 0.6 ? prefixes[int(0, 2)]! : [];
      const prompt = [...base, ...Array.from({ length: int(1, 30) }, () => int(0, 999))].slice(0, maxModelLen);
      const seqId = `r${next++}`;
      live.set(seqId, { seq: sched.addRequest({ seqId, promptTokenIds: prompt }), maxTokens: int(1, 40) });
    }
    if (live.size > 0 && r() < 0.03) {
      const ids = [...live.keys()];
      const id = ids[int(0, ids.length - 1)]!;
      expect(sched.abort(id)).toBe(true);
      live.delete(id);
      stats.aborted++;
    }
    if (r() < 0.05 && sched.numRunning < 8) {
      const parent = [...live.values()].find((l) => l.seq.status === 'running' && l.seq.numUncomputed === 1 && l.seq.outputTokenIds.length > 0);
      if (parent) {
        const outs = [...parent.seq.outputTokenIds];
        outs[outs.length - 1] = int(0, 999); // the child's own sample
        const seqId = `r${next++}`;
        live.set(seqId, { seq: sched.fork(parent.seq.seqId, seqId, outs), maxTokens: parent.maxTokens });
        stats.forks++;
      }
    }
    step();
  }
  let drain = 0;
  while (sched.hasUnfinished()) {
    if (++drain > 20_000) throw new Error(`${sched.numWaiting + sched.numRunning + sched.numSwapped} requests stuck after arrivals stopped`);
    step();
  }
  return { stats, sched };
}

describe('randomized scheduler simulation', () => {
  const configs: SimConfig[] = [
    { seed: 1, mode: 'recompute', chunked: true, prefixCaching: true, steps: 2500 },
    { seed: 2, mode: 'swap', chunked: true, prefixCaching: true, steps: 2500 },
    { seed: 3, mode: 'recompute', chunked: false, prefixCaching: false, steps: 1500 },
    { seed: 4, mode: 'swap', chunked: false, prefixCaching: true, steps: 1500 },
  ];
  for (const cfg of configs) {
    it(`seed ${cfg.seed}: ${cfg.mode}, chunked=${cfg.chunked}, prefix caching=${cfg.prefixCaching}`, () => {
      const { stats, sched } = simulate(cfg);
      // The run must have exercised the hard paths, not just idled.
      expect(stats.finished).toBeGreaterThan(250);
      expect(stats.preemptions).toBeGreaterThan(0);
      expect(stats.forks).toBeGreaterThan(0);
      expect(stats.copies).toBeGreaterThan(0);
      if (cfg.mode === 'swap') expect(stats.swaps).toBeGreaterThan(0);
      if (cfg.prefixCaching) expect(sched.manager.pool.stats().prefixHits).toBeGreaterThan(0);
      // Nothing leaked: every block is free (cached ones count as free), host included.
      expect(sched.manager.pool.numFree).toBe(sched.manager.pool.numBlocks);
      expect(sched.manager.hostPool!.numFree).toBe(sched.manager.hostPool!.numBlocks);
    });
  }
});
