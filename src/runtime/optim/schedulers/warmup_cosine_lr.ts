import type { LrSchedule, SchedulerParams } from './types.ts';
import { warmupGamma, warmupSteps } from './warmup.ts';

/**
 * WarmupCosineLR, as ratios of the optimizer's lr. With it = step − 1:
 *   warm-up (it < n):  ratio = warmup_min_ratio + (1 − warmup_min_ratio)·γ(it)
 *   after:             x = min(1, (it − n + 1) / max(1, total − n))
 *                      ratio = max(0, cos_min_ratio + (1 − cos_min_ratio)·(1 + cos πx)/2)
 * Defaults warmup_min_ratio 0, cos_min_ratio 0.0001. DeepSpeed sets lr 0 at construction,
 * so step 0 runs at lr 0.
 */
export function warmupCosineLR(p: SchedulerParams, baseLr: number, total: number): LrSchedule {
  const n = warmupSteps(p.warmup_num_steps);
  const type = p.warmup_type ?? 'log';
  const minRatio = p.warmup_min_ratio ?? 0;
  const cosMin = p.cos_min_ratio ?? 0.0001;
  const span = Math.max(1, total - n);
  return {
    lrAt: (step) => {
      if (step <= 0) return 0;
      const it = step - 1;
      if (it < n) return baseLr * (minRatio + (1 - minRatio) * warmupGamma(it, n, type));
      const x = Math.min(1, (it - n + 1) / span);
      return baseLr * Math.max(0, cosMin + ((1 - cosMin) * (1 + Math.cos(Math.PI * x))) / 2);
    },
  };
}
