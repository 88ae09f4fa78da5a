import { assert } from '../../errors.ts';
import type { BlockCopy, BlockMapping, ComputedBlocks, KvCacheManager, SeqId } from '../kv/manager.ts';
import type { SchedulerConfig } from './config.ts';
import type { ScheduledSeq, SchedulerOutput } from './output.ts';
import { insertByArrival, removeFrom, type Sequence } from './sequence.ts';

/** The three queues, each kept in arrival order. */
export interface Queues {
  readonly waiting: Sequence[];
  readonly running: Sequence[];
  readonly swapped: Sequence[];
}

/** What one schedule() call builds up while its steps run. */
export class StepContext {
  budget: number;
  readonly scheduled: ScheduledSeq[] = [];
  readonly scheduledIds = new Set<SeqId>();
  readonly preempted: SeqId[] = [];
  readonly swappedOut: BlockMapping[] = [];
  readonly swappedIn: BlockMapping[] = [];
  readonly blockCopies: BlockCopy[] = [];

  constructor(
    readonly step: number,
    readonly config: SchedulerConfig,
    readonly manager: KvCacheManager,
    readonly queues: Queues,
  ) {
    this.budget = config.maxNumBatchedTokens;
  }

  /** Tokens to schedule for `seq` now: its uncomputed tokens cut to the budget, 0 if it must wait. */
  tokensFor(seq: Sequence, numCached = 0): number {
    const remaining = seq.numUncomputed - numCached;
    assert(remaining >= 1, () => `sequence ${seq.seqId} has ${remaining} tokens to compute`);
    const n = Math.min(remaining, this.budget);
    return !this.config.enableChunkedPrefill && n < remaining ? 0 : n;
  }

  /** Allocate slots and add `seq` to the step; false (nothing changed) when blocks run out. */
  trySchedule(seq: Sequence, numTokens: number, computed?: ComputedBlocks): boolean {
    assert(numTokens >= 1 && numTokens <= this.budget, () => `scheduling ${numTokens} tokens with a budget of ${this.budget}`);
    const alloc = this.manager.allocateSlots(seq.seqId, numTokens, computed);
    if (alloc === null) return false;
    if (computed) seq.numComputedTokens = computed.numCachedTokens;
    const startPos = seq.numComputedTokens;
    assert(this.manager.numSlots(seq.seqId) === startPos + numTokens, () => `${seq.seqId}: slots out of step with computed tokens`);
    this.blockCopies.push(...alloc.copies);
    this.scheduled.push({
      seqId: seq.seqId,
      numTokens,
      startPos,
      isPrefill: numTokens > 1 || seq.outputTokenIds.length === 0,
      sample: startPos + numTokens === seq.numTokens,
      tokenIds: seq.tokenIds.slice(startPos, startPos + numTokens),
      blockTable: [...this.manager.blockTable(seq.seqId)],
    });
    this.scheduledIds.add(seq.seqId);
    seq.lastScheduledStep = this.step;
    this.budget -= numTokens;
    return true;
  }

  /** The running sequence to give up next: the latest arrival not yet scheduled this step. */
  pickVictim(): Sequence {
    const running = this.queues.running;
    for (let i = running.length - 1; i >= 0; i--) {
      if (!this.scheduledIds.has(running[i]!.seqId)) return running[i]!;
    }
    assert(false, 'pickVictim: every running sequence is already scheduled');
  }

  /** Take `victim` off the running batch: swap its blocks to host, or free them to recompute later. */
  preempt(victim: Sequence): void {
    assert(removeFrom(this.queues.running, victim), () => `preempting ${victim.seqId}, which is not running`);
    victim.numPreemptions++;
    this.preempted.push(victim.seqId);
    if (this.config.preemptionMode === 'swap') {
      const mappings = this.manager.swapOut(victim.seqId);
      if (mappings !== null) {
        this.swappedOut.push(...mappings);
        victim.status = 'swapped';
        insertByArrival(this.queues.swapped, victim);
        return;
      }
      // Host swap space is full: fall back to recompute rather than fail the request.
    }
    this.manager.free(victim.seqId);
    victim.numComputedTokens = 0; // re-prefills prompt + output; the tokens themselves are kept
    victim.status = 'waiting';
    insertByArrival(this.queues.waiting, victim);
  }

  toOutput(): SchedulerOutput {
    return {
      step: this.step,
      scheduled: this.scheduled,
      preempted: this.preempted,
      swappedOut: this.swappedOut,
      swappedIn: this.swappedIn,
      blockCopies: this.blockCopies,
      numBatchedTokens: this.config.maxNumBatchedTokens - this.budget,
    };
  }
}
