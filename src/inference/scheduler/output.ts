import type { BlockCopy, BlockMapping, SeqId } from '../kv/manager.ts';

/** One sequence's share of a step: feed tokenIds at positions startPos .. startPos+numTokens-1. */
export interface ScheduledSeq {
  readonly seqId: SeqId;
  /** Tokens computed this step. */
  readonly numTokens: number;
  /** Position of the first of them (= tokens already in the cache). */
  readonly startPos: number;
  /** A prompt (or recompute) chunk rather than one decode token. */
  readonly isPrefill: boolean;
  /** Whether the step reaches the sequence's last token, so its logits are sampled. */
  readonly sample: boolean;
  /** The tokens to feed.  [numTokens] */
  readonly tokenIds: readonly number[];
  /** The block table after this step's allocation (covers startPos + numTokens slots). */
  readonly blockTable: readonly number[];
}

/**
 * Everything the model runner needs for one step, as plain data. It must apply, in order:
 * swappedOut (device→host), swappedIn (host→device), blockCopies (device, in list order),
 * then run the forward over `scheduled`.
 */
export interface SchedulerOutput {
  readonly step: number;
  readonly scheduled: readonly ScheduledSeq[];
  /** Sequences preempted this step (recompute: back to waiting; swap: to the swapped queue). */
  readonly preempted: readonly SeqId[];
  readonly swappedOut: readonly BlockMapping[];
  readonly swappedIn: readonly BlockMapping[];
  /** Copy-on-write copies for forked sequences writing into a shared partial block. */
  readonly blockCopies: readonly BlockCopy[];
  readonly numBatchedTokens: number;
}

export interface FinishedSeq {
  readonly seqId: SeqId;
  readonly reason: 'stop' | 'length';
}
