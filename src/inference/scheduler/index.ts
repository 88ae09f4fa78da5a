export { Scheduler } from './scheduler.ts';
export type { AddRequest } from './scheduler.ts';
export { resolveSchedulerConfig } from './config.ts';
export type { SchedulerConfig, SchedulerConfigInput, PreemptionMode } from './config.ts';
export { SchedulerError } from './errors.ts';
export type { ScheduledSeq, SchedulerOutput, FinishedSeq } from './output.ts';
export { Sequence, compareArrival } from './sequence.ts';
export type { SequenceStatus, FinishReason } from './sequence.ts';
