import { ConfigError } from '../../../errors.ts';
import { oneCycle } from './one_cycle.ts';
import type { LrSchedule, SchedulerBlock } from './types.ts';
import { warmupCosineLR } from './warmup_cosine_lr.ts';
import { warmupDecayLR } from './warmup_decay_lr.ts';
import { warmupLR } from './warmup_lr.ts';

export type { LrSchedule, SchedulerBlock } from './types.ts';
export { warmupGamma } from './warmup.ts';

function need(v: number | undefined, key: string, type: string): number {
  if (v === undefined) throw new ConfigError(`scheduler.params.${key}`, `${type} needs ${key}`);
  return v;
}

/**
 * The schedule the config's `scheduler` block names (deepspeed/runtime/lr_schedules.py);
 * without a block, the optimizer's lr at every step. `baseLr` is optimizer.params.lr.
 */
export function createScheduler(block: SchedulerBlock | undefined, baseLr: number): LrSchedule {
  if (!block) return { lrAt: () => baseLr };
  const p = block.params;
  switch (block.type) {
    case 'WarmupLR':
      return warmupLR(p, baseLr);
    case 'WarmupDecayLR':
      return warmupDecayLR(p, need(p.total_num_steps, 'total_num_steps', block.type));
    case 'WarmupCosineLR':
      return warmupCosineLR(p, baseLr, need(p.total_num_steps, 'total_num_steps', block.type));
    case 'OneCycle':
      return oneCycle(p, need(p.cycle_min_lr, 'cycle_min_lr', block.type), need(p.cycle_max_lr, 'cycle_max_lr', block.type));
  }
}
