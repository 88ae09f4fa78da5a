import type { SeqId } from '../kv/manager.ts';

export type SequenceStatus = 'waiting' | 'running' | 'swapped' | 'finished';
export type FinishReason = 'stop' | 'length' | 'abort';

/**
 * One sequence: its prompt, what it generated, and how much of it has K/V in the cache.
 * Tokens [0, numComputedTokens) are computed; the rest (the prompt's uncomputed part, or the last
 * sampled token) go through the model in a coming step.
 */
export class Sequence {
  readonly outputTokenIds: number[] = [];
  /** prompt + output, kept in step with outputTokenIds (the model runner slices it). */
  readonly tokenIds: number[];
  numComputedTokens = 0;
  status: SequenceStatus = 'waiting';
  finishReason: FinishReason | null = null;
  numPreemptions = 0;
  /** The step this sequence was last scheduled in (-1: never). */
  lastScheduledStep = -1;
  /** Whether its prompt may start from prefix-cache hits (false when every prompt position's logits are wanted). */
  reuseCachedPrefix = true;

  constructor(
    readonly seqId: SeqId,
    readonly promptTokenIds: readonly number[],
    /** Arrival order; forks keep the parent's and order after it by `forkOrder`. */
    readonly arrival: number,
    readonly forkOrder = 0,
  ) {
    this.tokenIds = [...promptTokenIds];
  }

  get numTokens(): number {
    return this.tokenIds.length;
  }

  get numUncomputed(): number {
    return this.tokenIds.length - this.numComputedTokens;
  }

  appendToken(tokenId: number): void {
    this.outputTokenIds.push(tokenId);
    this.tokenIds.push(tokenId);
  }
}

/** FCFS order: earlier arrival first; a fork right after its parent. */
export function compareArrival(a: Sequence, b: Sequence): number {
  return a.arrival - b.arrival || a.forkOrder - b.forkOrder;
}

/** Insert keeping `queue` in arrival order (a preempted sequence lands in front of later arrivals). */
export function insertByArrival(queue: Sequence[], seq: Sequence): void {
  let i = queue.length;
  while (i > 0 && compareArrival(queue[i - 1]!, seq) > 0) i--;
  queue.splice(i, 0, seq);
}

export function removeFrom(queue: Sequence[], seq: Sequence): boolean {
  const i = queue.indexOf(seq);
  if (i >= 0) queue.splice(i, 1);
  return i >= 0;
}
