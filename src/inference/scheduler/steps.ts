import type { StepContext } from './step.ts';
import { insertByArrival } from './sequence.ts';

/**
 * Running sequences: decodes first (one token each), then the next chunk of unfinished
 * prefills. When blocks run out, preempt the latest arrival until the sequence fits or
 * is itself the one preempted.
 */
export function scheduleRunning(ctx: StepContext): void {
  const running = ctx.queues.running;
  const decodes = running.filter((s) => s.numUncomputed === 1);
  const prefills = running.filter((s) => s.numUncomputed > 1);
  for (const seq of [...decodes, ...prefills]) {
    if (seq.status !== 'running') continue; // preempted earlier in this loop
    const n = ctx.tokensFor(seq);
    if (n === 0) continue;
    for (;;) {
      if (ctx.trySchedule(seq, n)) break;
      const victim = ctx.pickVictim();
      ctx.preempt(victim);
      if (victim === seq) break;
    }
  }
}

/** Swapped sequences come back, oldest first, before any new admission. */
export function scheduleSwapped(ctx: StepContext): void {
  const { swapped, running } = ctx.queues;
  while (swapped.length > 0 && running.length < ctx.config.maxNumSeqs && ctx.budget > 0) {
    const seq = swapped[0]!;
    const n = ctx.tokensFor(seq);
    if (n === 0) return;
    const mappings = ctx.manager.swapIn(seq.seqId);
    if (mappings === null) return;
    ctx.swappedIn.push(...mappings);
    swapped.shift();
    seq.status = 'running';
    insertByArrival(running, seq);
    // Swapped in but no room for its new slots: it stays running and goes first next step.
    if (!ctx.trySchedule(seq, n)) return;
  }
}

const NO_PREFIX_HIT = { blocks: [], numCachedTokens: 0 };

/** Admit waiting sequences in FCFS order; the head blocks the rest (no overtaking). */
export function scheduleWaiting(ctx: StepContext): void {
  const { waiting, running } = ctx.queues;
  while (waiting.length > 0 && running.length < ctx.config.maxNumSeqs && ctx.budget > 0) {
    const seq = waiting[0]!;
    const computed = seq.reuseCachedPrefix ? ctx.manager.getComputedBlocks(seq.seqId, seq.tokenIds) : NO_PREFIX_HIT;
    const n = ctx.tokensFor(seq, computed.numCachedTokens);
    if (n === 0 || !ctx.trySchedule(seq, n, computed)) return;
    waiting.shift();
    seq.status = 'running';
    insertByArrival(running, seq);
  }
}
