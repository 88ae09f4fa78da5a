import { BlockPool } from '../../../src/inference/kv/block_pool.ts';
import { KvCacheManager } from '../../../src/inference/kv/manager.ts';
import type { SchedulerConfigInput } from '../../../src/inference/scheduler/config.ts';
import type { FinishedSeq, SchedulerOutput } from '../../../src/inference/scheduler/output.ts';
import { Scheduler } from '../../../src/inference/scheduler/scheduler.ts';
import type { Sequence } from '../../../src/inference/scheduler/sequence.ts';

/** A stand-in model: the next token is a fixed function of the whole history. */
export function fakeNextToken(tokens: readonly number[]): number {
  let h = 17;
  for (const t of tokens) h = (h * 31 + t) % 1_000_003;
  return h % 1000;
}

export interface Job {
  readonly seqId: string;
  readonly prompt: readonly number[];
  readonly maxTokens: number;
}

export function makeScheduler(
  config: SchedulerConfigInput,
  kv: { numBlocks: number; blockSize?: number; hostBlocks?: number; prefixCaching?: boolean },
): Scheduler {
  const pool = new BlockPool({ numBlocks: kv.numBlocks, blockSize: kv.blockSize ?? 16, enablePrefixCaching: kv.prefixCaching ?? true });
  const host = kv.hostBlocks ? new BlockPool({ numBlocks: kv.hostBlocks, blockSize: kv.blockSize ?? 16, enablePrefixCaching: false }) : null;
  return new Scheduler(config, new KvCacheManager(pool, host));
}

/** Plays the engine: schedule, "run the model", report tokens and finished sequences. */
export class Driver {
  readonly outputs = new Map<string, number[]>();
  readonly maxTokens = new Map<string, number>();
  readonly seqs = new Map<string, Sequence>();
  readonly finishStep = new Map<string, number>();
  steps = 0;

  constructor(readonly sched: Scheduler) {}

  add(job: Job): void {
    this.seqs.set(job.seqId, this.sched.addRequest({ seqId: job.seqId, promptTokenIds: job.prompt }));
    this.maxTokens.set(job.seqId, job.maxTokens);
  }

  step(): { output: SchedulerOutput; finished: FinishedSeq[] } {
    const output = this.sched.schedule();
    const sampled = new Map<string, number>();
    const done: string[] = [];
    for (const s of output.scheduled) {
      if (!s.sample) continue;
      const seq = this.sched.get(s.seqId)!;
      sampled.set(s.seqId, fakeNextToken(seq.tokenIds));
      if (seq.outputTokenIds.length + 1 >= this.maxTokens.get(s.seqId)!) done.push(s.seqId);
    }
    const finished = this.sched.updateFromOutput(output, sampled, done);
    for (const f of finished) {
      this.finishStep.set(f.seqId, this.steps);
      this.outputs.set(f.seqId, [...this.seqs.get(f.seqId)!.outputTokenIds]);
    }
    this.steps++;
    return { output, finished };
  }

  runToEnd(maxSteps = 100_000, each?: (out: SchedulerOutput) => void): void {
    while (this.sched.hasUnfinished()) {
      if (this.steps >= maxSteps) throw new Error(`not finished after ${maxSteps} steps`);
      const { output } = this.step(); // not inside each?.(): an absent callback would skip the step
      each?.(output);
    }
  }
}

/** What each job generates with no memory pressure at all: the reference. */
export function referenceOutputs(jobs: readonly Job[], maxModelLen = Infinity): Map<string, number[]> {
  const out = new Map<string, number[]>();
  for (const job of jobs) {
    const tokens = [...job.prompt];
    const gen: number[] = [];
    do {
      const t = fakeNextToken(tokens);
      tokens.push(t);
      gen.push(t);
    } while (gen.length < job.maxTokens && tokens.length < maxModelLen);
    out.set(job.seqId, gen);
  }
  return out;
}
