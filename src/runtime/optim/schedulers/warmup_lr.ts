import type { LrSchedule, SchedulerParams } from './types.ts';
import { warmupGamma, warmupSteps } from './warmup.ts';

/**
 * WarmupLR: from warmup_min_lr (default 0) up to warmup_max_lr (default: the optimizer's lr,
 * as current DeepSpeed) over warmup_num_steps (log or linear, default log), then constant.
 * Step 0 runs at warmup_min_lr.
 */
export function warmupLR(p: SchedulerParams, baseLr: number): LrSchedule {
  const lo = p.warmup_min_lr ?? 0;
  const hi = p.warmup_max_lr ?? baseLr;
  const n = warmupSteps(p.warmup_num_steps);
  const type = p.warmup_type ?? 'log';
  return { lrAt: (step) => (step <= 0 ? lo : lo + (hi - lo) * warmupGamma(step - 1, n, type)) };
}
