/**
 * `ds bench train` on the config's built-in task (data.task addition or reversal) instead of
 * random tokens, for comparisons whose loss must mean something (1-bit Adam against Adam): the
 * batches of examples/train.ts, and a held-out loss on batches no run trains on.
 */
import { AdditionTask, ReversalTask, taskBatches, taskTokenizer, type Task } from '../../../data/index.ts';
import type { DsConfig } from '../../../runtime/config/index.ts';
import type { Engine } from '../../../runtime/engine/engine.ts';
import type { MicroBatch } from '../../../runtime/engine/executor.ts';
import { InputError } from '../../../errors.ts';

export const taskVocab = taskTokenizer();

export interface TaskData {
  /** This rank's next micro-batch of the training stream. */
  next(): MicroBatch;
  /** Mean masked loss over `batches` held-out micro-batches (the same for every run of one config). */
  /** Mean loss over held-out batches; every rank calls it (evalBatch runs through stages and tp ranks). */
  heldOutLoss(engine: Engine, batches: number): Promise<number>;
}

export function taskData(config: DsConfig, rank: number, worldSize: number): TaskData {
  const data = config.data;
  if (data.task === 'arrow') throw new InputError('ds bench train --task: data.task "arrow" is not a built-in task (use addition or reversal)');
  const task: Task = data.task === 'reversal' ? new ReversalTask({ minLength: data.min_length, maxLength: data.max_length }) : new AdditionTask({ digits: data.digits });
  const seqLen = data.seq_len ?? task.maxChars + 1;
  const micro = config.train_micro_batch_size_per_gpu;
  const stream = (seed: number, r: number, n: number) => {
    const it = taskBatches({ task, seqLen, batchSize: micro, seed, rank: r, worldSize: n });
    return (): MicroBatch => ({ ...it.next().value, batchSize: micro, seqLen });
  };
  return {
    next: stream(config.seed, rank, worldSize),
    heldOutLoss: async (engine, batches) => {
      const held = stream(config.seed + 7919, 0, 1);
      let sum = 0;
      for (let i = 0; i < batches; i++) sum += await engine.evalBatch(held());
      return sum / batches;
    },
  };
}
