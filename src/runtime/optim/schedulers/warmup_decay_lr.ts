import type { LrSchedule, SchedulerParams } from './types.ts';
import { warmupGamma, warmupSteps } from './warmup.ts';

/**
 * WarmupDecayLR: WarmupLR's warm-up, then linear decay reaching 0 at total_num_steps:
 * γ = max(0, (total − it) / max(1, total − warmup)), it = step − 1. DeepSpeed's default
 * warmup_max_lr here is 0.001 (not the optimizer's lr).
 */
export function warmupDecayLR(p: SchedulerParams, total: number): LrSchedule {
  const lo = p.warmup_min_lr ?? 0;
  const hi = p.warmup_max_lr ?? 0.001;
  const n = warmupSteps(p.warmup_num_steps);
  const type = p.warmup_type ?? 'log';
  return {
    lrAt: (step) => {
      if (step <= 0) return lo;
      const it = step - 1;
      const gamma = it < n ? warmupGamma(it, n, type) : Math.max(0, (total - it) / Math.max(1, total - n));
      return lo + (hi - lo) * gamma;
    },
  };
}
