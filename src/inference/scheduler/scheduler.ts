import { ConfigError, InvalidRequestError, assert } from '../../errors.ts';
import type { KvCacheManager, SeqId } from '../kv/manager.ts';
import { resolveSchedulerConfig, type SchedulerConfig, type SchedulerConfigInput } from './config.ts';
import { SchedulerError } from './errors.ts';
import type { FinishedSeq, SchedulerOutput } from './output.ts';
import { Sequence, insertByArrival, removeFrom } from './sequence.ts';
import { StepContext, type Queues } from './step.ts';
import { scheduleRunning, scheduleSwapped, scheduleWaiting } from './steps.ts';

export interface AddRequest {
  readonly seqId: SeqId;
  readonly promptTokenIds: readonly number[];
  /** false: compute the whole prompt even where the prefix cache holds it (its logits are wanted). Default true. */
  readonly reuseCachedPrefix?: boolean;
}

/**
 * Continuous batching over a paged KV cache, as plain data: schedule() decides one step,
 * the engine runs the model, updateFromOutput() records what came out. It never calls a
 * model and holds no tensors.
 */
export class Scheduler {
  readonly config: SchedulerConfig;
  private readonly queues: Queues = { waiting: [], running: [], swapped: [] };
  private readonly seqs = new Map<SeqId, Sequence>();
  private nextArrival = 0;
  private nextForkOrder = 1;
  private step = 0;
  private pending: SchedulerOutput | null = null;

  constructor(
    config: SchedulerConfigInput,
    readonly manager: KvCacheManager,
  ) {
    this.config = resolveSchedulerConfig(config);
    const capacity = manager.pool.numBlocks * manager.blockSize;
    if (capacity < this.config.maxModelLen) {
      throw new ConfigError(
        'scheduler.maxModelLen',
        `${this.config.maxModelLen} tokens need ${Math.ceil(this.config.maxModelLen / manager.blockSize)} blocks, the KV pool has ${manager.pool.numBlocks}`,
      );
    }
    if (this.config.preemptionMode === 'swap' && manager.hostPool === null) {
      throw new ConfigError('scheduler.preemptionMode', `'swap' needs host swap space; the KV cache manager has no host pool`);
    }
  }

  /** Queue a request; it joins the batch at a coming step. Rejects what could never run. */
  addRequest(req: AddRequest): Sequence {
    if (typeof req.seqId !== 'string' || req.seqId === '') throw new InvalidRequestError(`seqId must be a non-empty string`, 'seqId');
    if (this.seqs.has(req.seqId)) throw new InvalidRequestError(`sequence ${req.seqId} is already in the scheduler`, 'seqId');
    const prompt = req.promptTokenIds;
    if (!Array.isArray(prompt) || prompt.length === 0) throw new InvalidRequestError(`the prompt of ${req.seqId} is empty`, 'prompt');
    const bad = prompt.findIndex((t) => !Number.isInteger(t) || t < 0);
    if (bad >= 0) throw new InvalidRequestError(`prompt token at index ${bad} is ${prompt[bad]}, expected a non-negative integer`, 'prompt');
    const { maxModelLen } = this.config;
    if (prompt.length > maxModelLen) {
      throw new InvalidRequestError(
        `this model's maximum context length is ${maxModelLen} tokens, but the prompt of ${req.seqId} has ${prompt.length} tokens`,
        'prompt',
      );
    }
    const needed = Math.ceil(prompt.length / this.manager.blockSize);
    if (needed > this.manager.pool.numBlocks) {
      throw new InvalidRequestError(`the prompt needs ${needed} KV blocks, the cache has ${this.manager.pool.numBlocks} in all`, 'prompt');
    }
    const seq = new Sequence(req.seqId, prompt, this.nextArrival++);
    seq.reuseCachedPrefix = req.reuseCachedPrefix ?? true;
    this.seqs.set(seq.seqId, seq);
    this.queues.waiting.push(seq);
    return seq;
  }

  /** Decide the next step. Call updateFromOutput with its result before scheduling again. */
  schedule(): SchedulerOutput {
    if (this.pending) throw new SchedulerError(`schedule: step ${this.pending.step} has no updateFromOutput yet`);
    const ctx = new StepContext(this.step++, this.config, this.manager, this.queues);
    scheduleRunning(ctx);
    // After a preemption, admitting anyone would only be preempted back: wait a step.
    if (ctx.preempted.length === 0) scheduleSwapped(ctx);
    if (ctx.preempted.length === 0 && this.queues.swapped.length === 0) scheduleWaiting(ctx);
    this.pending = ctx.toOutput();
    return this.pending;
  }

  /**
   * Record a step's result: each scheduled sequence whose step reached its last token gets its
   * sampled token; `finishedSeqIds` (stop token, max_tokens: the engine's call) leave now, as do
   * sequences that reach maxModelLen. Sequences aborted meanwhile are skipped.
   */
  updateFromOutput(
    output: SchedulerOutput,
    sampledTokens: ReadonlyMap<SeqId, number>,
    finishedSeqIds: Iterable<SeqId> = [],
  ): FinishedSeq[] {
    if (output !== this.pending) throw new SchedulerError(`updateFromOutput: step ${output.step} is not the pending step ${this.pending?.step ?? 'none'}`);
    const live = output.scheduled.filter((s) => this.seqs.get(s.seqId)?.lastScheduledStep === output.step);
    const liveIds = new Set(live.map((s) => s.seqId));
    for (const s of live) {
      const tok = sampledTokens.get(s.seqId);
      if (s.sample && (tok === undefined || !Number.isInteger(tok) || tok < 0)) {
        throw new SchedulerError(`updateFromOutput: ${s.seqId} was sampled in step ${output.step} but got token ${tok}`);
      }
      if (!s.sample && tok !== undefined) throw new SchedulerError(`updateFromOutput: ${s.seqId} ran a prefill chunk and has no token to sample, got ${tok}`);
    }
    for (const id of sampledTokens.keys()) {
      if (!liveIds.has(id) && this.seqs.has(id)) throw new SchedulerError(`updateFromOutput: token for ${id}, which was not scheduled in step ${output.step}`);
    }
    this.pending = null;

    const finished: FinishedSeq[] = [];
    for (const s of live) {
      const seq = this.seqs.get(s.seqId)!;
      assert(seq.numComputedTokens === s.startPos, () => `${seq.seqId}: computed ${seq.numComputedTokens}, step started at ${s.startPos}`);
      seq.numComputedTokens += s.numTokens;
      if (s.sample) seq.appendToken(sampledTokens.get(s.seqId)!);
      this.manager.cacheFullBlocks(seq.seqId, seq.tokenIds, seq.numComputedTokens);
      if (s.sample && seq.numTokens >= this.config.maxModelLen) finished.push({ seqId: seq.seqId, reason: 'length' });
    }
    for (const id of finishedSeqIds) {
      const seq = this.seqs.get(id);
      if (seq && !finished.some((f) => f.seqId === id)) finished.push({ seqId: id, reason: 'stop' });
    }
    for (const f of finished) this.finish(this.seqs.get(f.seqId)!, f.reason);
    return finished;
  }

  /** Drop a sequence now, wherever it is, and free its blocks. False if it is unknown or gone. */
  abort(seqId: SeqId): boolean {
    const seq = this.seqs.get(seqId);
    if (!seq) return false;
    this.finish(seq, 'abort');
    return true;
  }

  /**
   * n > 1 sampling: `childId` starts as a copy of running `parentId`, sharing its blocks
   * (copy on write). `outputTokenIds` may replace the parent's outputs where they are not yet
   * computed (the child's own first sample). Only between steps.
   */
  fork(parentId: SeqId, childId: SeqId, outputTokenIds?: readonly number[]): Sequence {
    if (this.pending) throw new SchedulerError(`fork: step ${this.pending.step} is pending; fork after updateFromOutput`);
    const parent = this.seqs.get(parentId);
    if (!parent || parent.status !== 'running') throw new SchedulerError(`fork: parent ${parentId} is not running`);
    if (this.seqs.has(childId)) throw new InvalidRequestError(`fork: sequence ${childId} already exists`, 'seqId');
    if (this.queues.running.length >= this.config.maxNumSeqs) {
      throw new SchedulerError(`fork: the running batch is full (maxNumSeqs ${this.config.maxNumSeqs})`);
    }
    const outputs = outputTokenIds ?? parent.outputTokenIds;
    const fixed = parent.numComputedTokens - parent.promptTokenIds.length; // outputs already in the K/V
    if (outputs.length !== parent.outputTokenIds.length || outputs.some((t, i) => i < fixed && t !== parent.outputTokenIds[i])) {
      throw new SchedulerError(`fork: child outputs must match the parent's ${parent.outputTokenIds.length} outputs in the first ${fixed}`);
    }
    const child = new Sequence(childId, parent.promptTokenIds, parent.arrival, this.nextForkOrder++);
    for (const t of outputs) child.appendToken(t);
    child.numComputedTokens = parent.numComputedTokens;
    child.status = 'running';
    this.manager.fork(parentId, childId);
    this.seqs.set(childId, child);
    insertByArrival(this.queues.running, child);
    return child;
  }

  get(seqId: SeqId): Sequence | undefined {
    return this.seqs.get(seqId);
  }

  get numWaiting(): number {
    return this.queues.waiting.length;
  }
  get numRunning(): number {
    return this.queues.running.length;
  }
  get numSwapped(): number {
    return this.queues.swapped.length;
  }
  hasUnfinished(): boolean {
    return this.seqs.size > 0;
  }

  /** Queues agree with statuses and block ownership; the KV books balance. For tests. */
  checkInvariants(): void {
    let n = 0;
    for (const [status, queue] of [['waiting', this.queues.waiting], ['running', this.queues.running], ['swapped', this.queues.swapped]] as const) {
      for (const seq of queue) {
        n++;
        assert(seq.status === status && this.seqs.get(seq.seqId) === seq, () => `${seq.seqId} in ${status} queue has status ${seq.status}`);
        const held = this.manager.has(seq.seqId) ? this.manager.blockTable(seq.seqId).length : 0;
        assert(status !== 'waiting' || held === 0, () => `waiting ${seq.seqId} holds ${held} blocks`);
        assert(status === 'waiting' || this.manager.isSwappedOut(seq.seqId) === (status === 'swapped'), () => `${seq.seqId} blocks are on the wrong side`);
      }
    }
    assert(n === this.seqs.size, () => `${this.seqs.size} sequences but ${n} queued`);
    assert(this.queues.running.length <= this.config.maxNumSeqs, () => `${this.queues.running.length} running > maxNumSeqs`);
    this.manager.checkInvariants();
  }

  private finish(seq: Sequence, reason: 'stop' | 'length' | 'abort'): void {
    const queue = seq.status === 'running' ? this.queues.running : seq.status === 'swapped' ? this.queues.swapped : this.queues.waiting;
    assert(removeFrom(queue, seq), () => `${seq.seqId} missing from the ${seq.status} queue`);
    if (this.manager.has(seq.seqId)) this.manager.free(seq.seqId);
    seq.status = 'finished';
    seq.finishReason = reason;
    this.seqs.delete(seq.seqId);
  }
}
