export { Task, TASK_ALPHABET, taskTokenizer, type TaskExample, type GenerateFn } from './task.ts';
export { AdditionTask } from './addition.ts';
export { ReversalTask } from './reversal.ts';
export { taskBatches, type TaskBatch, type TaskBatchOptions } from './batches.ts';
