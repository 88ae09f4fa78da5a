import type { DsConfig } from '../../config/index.ts';

export type SchedulerBlock = NonNullable<DsConfig['scheduler']>;
export type SchedulerParams = SchedulerBlock['params'];

/**
 * A learning-rate schedule as a pure function of the optimizer step. `lrAt(step)` is the lr the
 * optimizer uses for its step number `step` (0-based), matching DeepSpeed's engine, which calls
 * scheduler.step() after each optimizer step: step 0 runs at the value the scheduler set at
 * construction (last_batch_iteration = −1), step k at get_lr() with last_batch_iteration = k − 1.
 */
export interface LrSchedule {
  lrAt(step: number): number;
  /** OneCycle with cycle_momentum: (β1, β2) for the step; absent or null means the optimizer's own. */
  betasAt?(step: number): readonly [number, number] | null;
}
